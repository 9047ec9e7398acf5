import { Link } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { useClient } from "../../api/clients";
import { RunService, WaitReasonCode, type WaitReason } from "../../gen/ferry/v1/run_pb";
import { ErrorNotice, Loading } from "../../components/Notice";
import { formatRelative, formatTime } from "../../lib/time";
import { shortId } from "./format";
import { Untrusted } from "../../components/Untrusted";
import { showUntrusted } from "../../lib/bidi";

/** Says why a scheduled or pending run is not running, refreshed every few
 * seconds; version changes whenever the run does, to ask again at once. */
export function Explain({ id, version }: { id: string; version: string }) {
  const client = useClient(RunService);
  const q = useQuery({
    queryKey: ["runs", "explain", id, version],
    queryFn: ({ signal }) => client.explainRun({ id }, { signal }),
    refetchInterval: 5_000,
    placeholderData: (prev) => prev,
  });
  return (
    <section aria-labelledby="explain-h" className="card explain">
      <h2 id="explain-h">Why isn't it running?</h2>
      {q.isPending && <Loading what="Asking the control plane" />}
      {q.isError && <ErrorNotice error={q.error} what="Cannot explain the run" onRetry={() => void q.refetch()} />}
      {q.data &&
        (q.data.reasons.length === 0 ? (
          <p>Nothing holds it back; the dispatcher should offer it to an agent shortly.</p>
        ) : (
          <ul className="explain-reasons" aria-live="polite">
            {q.data.reasons.map((r, n) => (
              <Reason key={n} r={r} />
            ))}
          </ul>
        ))}
    </section>
  );
}

function Reason({ r }: { r: WaitReason }) {
  const until = r.until;
  return (
    <li data-code={WaitReasonCode[r.code]}>
      <strong>{r.message ? <Untrusted text={r.message} /> : WaitReasonCode[r.code]}</strong>
      {r.limit !== "" && (
        <div className="hint">
          Limit: <code>{showUntrusted(r.limit)}</code>
        </div>
      )}
      {r.holdingRunIds.length > 0 && (
        <div className="hint">
          Held by:{" "}
          {r.holdingRunIds.map((h, i) => (
            <span key={h}>
              {i > 0 && ", "}
              <Link to={`/runs/${h}`} className="mono" title={h}>
                {shortId(h)}
              </Link>
            </span>
          ))}
        </div>
      )}
      {r.runsAhead > 0 && <div className="hint">{r.runsAhead} due run{r.runsAhead === 1 ? "" : "s"} ahead of it</div>}
      {r.agentId !== "" && (
        <div className="hint">
          Agent: <Untrusted className="mono" text={r.agentId} />
        </div>
      )}
      {until && (
        <div className="hint">
          Until {formatTime(until)} ({formatRelative(until)})
        </div>
      )}
    </li>
  );
}
