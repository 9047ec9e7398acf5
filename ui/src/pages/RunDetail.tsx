import { useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Code, ConnectError } from "@connectrpc/connect";
import { useClient } from "../api/clients";
import { RunService, RunState, type Run, type RunStateChange } from "../gen/ferry/v1/run_pb";
import { ErrorNotice, Loading } from "../components/Notice";
import { PageHeader } from "../components/PageHeader";
import { StateBadge } from "../components/StateBadge";
import { Untrusted } from "../components/Untrusted";
import { isFinal } from "../components/runState";
import { showUntrusted } from "../lib/bidi";
import { prettyJson } from "../lib/json";
import { formatDuration, formatRelative, formatTime } from "../lib/time";
import { Explain } from "./runs/Explain";
import { isUuid, runDurationMs, shortId } from "./runs/format";
import { LogTail } from "./runs/LogTail";
import { RunActions } from "./runs/RunActions";
import { Timeline } from "./runs/Timeline";
import { lastAgent } from "./runs/history";

/** Shows one run: its state as it changes, actions, history, parameters,
 * the reason it waits and its log as it is written. */
export default function RunDetail() {
  const { id = "" } = useParams();
  if (!isUuid(id)) return <RunNotFound />;
  return <RunView key={id} id={id.toLowerCase()} />;
}

/** Answers an id that names no run of this workspace. */
function RunNotFound() {
  return (
    <>
      <PageHeader title="Run not found" />
      <p>
        There is no run with this id in your workspace. It may belong to another workspace, or the address may be mistyped.
      </p>
      <p>
        <Link to="/runs">Back to the runs</Link>
      </p>
    </>
  );
}

/** The query key of one run. */
const runKey = (id: string) => ["runs", "get", id] as const;

/** Reports whether err means the id names no run the caller may see. */
function isMissing(err: unknown): boolean {
  const code = ConnectError.from(err).code;
  return code === Code.NotFound || code === Code.InvalidArgument;
}

function RunView({ id }: { id: string }) {
  const client = useClient(RunService);
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: runKey(id),
    queryFn: async ({ signal }) => {
      const r = (await client.getRun({ id }, { signal })).run;
      if (r === undefined) throw new ConnectError("the server answered without a run", Code.Internal);
      return r;
    },
    retry: (n, err) => !isMissing(err) && n < 2,
    // WatchRun below pushes changes; this poll is the fallback when the
    // stream is down, and notices a retry made elsewhere.
    refetchInterval: 10_000,
  });
  const run = q.data;
  const final = run !== undefined && isFinal(run.state);
  useWatchRun(id, run !== undefined && !final, (r) => qc.setQueryData(runKey(id), r));

  if (q.isError && isMissing(q.error)) return <RunNotFound />;
  if (run === undefined) {
    return (
      <>
        <PageHeader title={`Run ${shortId(id)}`} />
        {q.isError ? <ErrorNotice error={q.error} what="Cannot load the run" onRetry={() => void q.refetch()} /> : <Loading what="Loading the run" />}
      </>
    );
  }
  return <RunBody run={run} onChanged={(r) => qc.setQueryData(runKey(id), r)} />;
}

/** Follows WatchRun while active, handing each version of the run to
 * onRun; reconnects after a failure, and stops when the run is final. */
function useWatchRun(id: string, active: boolean, onRun: (r: Run) => void) {
  const client = useClient(RunService);
  const [latest] = useState(() => ({ onRun }));
  latest.onRun = onRun;
  useEffect(() => {
    if (!active) return;
    const ac = new AbortController();
    const watch = async () => {
      let backoff = 1_000;
      while (!ac.signal.aborted) {
        try {
          for await (const r of client.watchRun({ id }, { signal: ac.signal })) {
            if (r.run) latest.onRun(r.run);
            backoff = 1_000;
          }
          return;
        } catch (err) {
          if (ac.signal.aborted || isMissing(err)) return;
          // The GetRun poll keeps the page current meanwhile.
          await new Promise((ok) => {
            const t = setTimeout(ok, backoff);
            ac.signal.addEventListener("abort", () => clearTimeout(t), { once: true });
          });
          backoff = Math.min(backoff * 2, 30_000);
        }
      }
    };
    void watch();
    return () => ac.abort();
  }, [client, id, active, latest]);
}

/** A version string that changes whenever the run does. */
function runVersion(r: Run): string {
  return `${r.state}:${r.stateName}:${r.attempt}:${r.updateTime?.seconds ?? 0n}:${r.updateTime?.nanos ?? 0}`;
}

function RunBody({ run, onChanged }: { run: Run; onChanged: (r: Run) => void }) {
  const client = useClient(RunService);
  const final = isFinal(run.state);
  const version = runVersion(run);
  const now = useTicker(final ? 0 : 1_000);
  const changes = useQuery({
    queryKey: ["runs", "changes", run.id, version],
    queryFn: ({ signal }) => client.listRunStateChanges({ id: run.id }, { signal }),
    placeholderData: (prev) => prev,
  });
  const waiting = run.state === RunState.SCHEDULED || run.state === RunState.PENDING;
  const duration = runDurationMs(run, now);
  // Parameters are anyone's input: bidirectional controls in them are shown as escapes.
  const params = showUntrusted(prettyJson(run.parameters));

  return (
    <>
      <PageHeader title={`Run ${shortId(run.id)}`}>
        <RunActions run={run} onChanged={onChanged} />
      </PageHeader>
      <div className="run-summary" aria-live="polite">
        <StateBadge state={run.state} detail={run.stateName} />
        <span>
          <Link to={`/deployments/${encodeURIComponent(run.deployment)}`}>
            <Untrusted text={run.deployment} />
          </Link>
          {run.deploymentVersion > 0 && <span className="hint"> v{run.deploymentVersion}</span>}
        </span>
        <span>
          Attempt {run.attempt} of {run.maxAttempts}
        </span>
        {duration !== undefined && <span>{final ? "Ran" : "Running"} for {formatDuration(duration)}</span>}
      </div>
      {run.stateMessage !== "" && (
        <p className="run-message">
          <Untrusted text={run.stateMessage} />
        </p>
      )}

      {waiting && <Explain id={run.id} version={version} />}

      <div className="run-grid">
        <section aria-labelledby="details-h">
          <h2 id="details-h">Details</h2>
          <dl className="props">
            <dt>Run id</dt>
            <dd className="mono">{run.id}</dd>
            <dt>Pool / queue</dt>
            <dd>
              {run.pool ? <Untrusted text={run.pool} /> : "—"} / {run.queue ? <Untrusted text={run.queue} /> : "—"}
            </dd>
            <dt>Created</dt>
            <dd>
              {formatTime(run.createTime)} {run.createdBy !== "" && <span className="hint">
                  by <Untrusted text={run.createdBy} />
                </span>}
            </dd>
            <dt>Expected start</dt>
            <dd>{run.expectedStartTime ? `${formatTime(run.expectedStartTime)} (${formatRelative(run.expectedStartTime, now)})` : "—"}</dd>
            <dt>Started</dt>
            <dd>{formatTime(run.startTime)}</dd>
            <dt>Ended</dt>
            <dd>{formatTime(run.endTime)}</dd>
            <dt>Priority</dt>
            <dd>{run.priority}</dd>
            <dt>Tags</dt>
            <dd>
              {run.tags.length === 0 ? (
                "—"
              ) : (
                <ul className="tag-list">
                  {run.tags.map((t) => (
                    <li key={t} className="tag">
                      <Link to={`/runs?tag=${encodeURIComponent(t)}`}>
                        <Untrusted text={t} />
                      </Link>
                    </li>
                  ))}
                </ul>
              )}
            </dd>
            <dt>Agent</dt>
            <dd>
              <AgentId run={run} history={changes.data?.changes} />
            </dd>
            <dt>Infrastructure id</dt>
            <dd className="mono">{run.infrastructureId ? <Untrusted text={run.infrastructureId} /> : "—"}</dd>
            <dt>Exit code</dt>
            <dd>{run.exitCode ?? "—"}</dd>
            {run.idempotencyKey !== "" && (
              <>
                <dt>Idempotency key</dt>
                <dd className="mono">
                  <Untrusted text={run.idempotencyKey} />
                </dd>
              </>
            )}
          </dl>
          <h2 id="params-h">Parameters</h2>
          {params === "" ? <p className="hint">No parameters.</p> : <pre aria-labelledby="params-h">{params}</pre>}
        </section>
        <section aria-labelledby="timeline-h">
          <h2 id="timeline-h">Timeline</h2>
          {changes.isError && <ErrorNotice error={changes.error} what="Cannot load the state history" onRetry={() => void changes.refetch()} />}
          {changes.isPending && <Loading what="Loading the state history" />}
          {changes.data && <Timeline changes={changes.data.changes} final={final} now={now} />}
        </section>
      </div>

      <LogTail runId={run.id} attempt={run.attempt} />
    </>
  );
}

/** Shows the run's agent, or after the run ended (when the run no longer
 * names it) the last agent its history names. */
function AgentId({ run, history }: { run: Run; history: RunStateChange[] | undefined }) {
  if (run.agentId !== "") return <Untrusted className="mono" text={run.agentId} />;
  const last = history ? lastAgent(history) : "";
  if (last === "") return <>—</>;
  return (
    <>
      <Untrusted className="mono" text={last} /> <span className="hint">(last agent)</span>
    </>
  );
}

/** Returns the current time, renewed every everyMs (0: never). */
function useTicker(everyMs: number): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    setNow(new Date());
    if (everyMs <= 0) return;
    const t = setInterval(() => setNow(new Date()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
