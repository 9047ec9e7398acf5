import { StateBadge } from "../../components/StateBadge";
import { formatDuration, formatTime } from "../../lib/time";
import type { RunStateChange } from "../../gen/ferry/v1/run_pb";
import { buildTimeline } from "./history";
import { Untrusted } from "../../components/Untrusted";

/** Shows a run's state history by attempt, with the time spent in each state. */
export function Timeline({ changes, final, now }: { changes: readonly RunStateChange[]; final: boolean; now: Date }) {
  const attempts = buildTimeline(changes, final, now);
  if (attempts.length === 0) return <p className="hint">No state changes recorded yet.</p>;
  return (
    <div className="timeline">
      {attempts.map((a, n) => (
        <section key={`${a.attempt}-${n}`} className="timeline-attempt" aria-label={`Attempt ${a.attempt}`}>
          <h3>
            Attempt {a.attempt}
            {a.durationMs !== undefined && <span className="hint"> · {formatDuration(a.durationMs)}</span>}
          </h3>
          <ol>
            {a.entries.map((e) => (
              <li key={e.change.id.toString()}>
                <StateBadge state={e.change.toState} detail={e.change.toName} />{" "}
                <time dateTime={e.at?.toISOString()}>{formatTime(e.at)}</time>
                {e.durationMs !== undefined && (
                  <span className="timeline-duration">
                    {" "}
                    · {e.ongoing ? "for " : ""}
                    {formatDuration(e.durationMs)}
                    {e.ongoing ? " so far" : ""}
                  </span>
                )}
                {(e.change.message !== "" || e.change.actor !== "") && (
                  <div className="hint">
                    {e.change.message !== "" && <Untrusted text={e.change.message} />}
                    {e.change.actor !== "" && (
                      <>
                        {" "}
                        (by <Untrusted text={e.change.actor} />)
                      </>
                    )}
                  </div>
                )}
              </li>
            ))}
          </ol>
        </section>
      ))}
    </div>
  );
}
