import { Link } from "react-router";
import type { Run } from "../../gen/ferry/v1/run_pb";
import { RunLink } from "../../components/RunLink";
import { StateBadge } from "../../components/StateBadge";
import { Untrusted } from "../../components/Untrusted";
import { formatDuration, formatTime } from "../../lib/time";
import { runDurationMs, shortId } from "./format";

/** Lists runs, one row each, newest first as the server sent them. */
export function RunsTable({ runs, now }: { runs: readonly Run[]; now: Date }) {
  return (
    <div className="table-wrap">
      <table className="runs-table">
        <caption>Runs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">State</th>
            <th scope="col">Run</th>
            <th scope="col">Deployment</th>
            <th scope="col" className="num">
              Attempt
            </th>
            <th scope="col">Tags</th>
            <th scope="col">Created</th>
            <th scope="col">Started</th>
            <th scope="col" className="num">
              Duration
            </th>
            <th scope="col">Agent</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => {
            const d = runDurationMs(r, now);
            return (
              <tr key={r.id}>
                <td>
                  <StateBadge state={r.state} detail={r.stateName} />
                </td>
                <td>
                  <RunLink id={r.id} />
                </td>
                <td>
                  <Link to={`/deployments/${encodeURIComponent(r.deployment)}`}>
                    <Untrusted text={r.deployment} />
                  </Link>
                  {r.deploymentVersion > 0 && <span className="hint"> v{r.deploymentVersion}</span>}
                </td>
                <td className="num">
                  {r.attempt}/{r.maxAttempts}
                </td>
                <td>
                  {r.tags.length === 0 ? (
                    <span className="hint">—</span>
                  ) : (
                    <ul className="tag-list">
                      {r.tags.map((t) => (
                        <li key={t} className="tag">
                          <Untrusted text={t} />
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
                <td className="nowrap">{formatTime(r.createTime)}</td>
                <td className="nowrap">{formatTime(r.startTime)}</td>
                <td className="num nowrap">{d === undefined ? "—" : formatDuration(d)}</td>
                <td>
                  {r.agentId === "" ? (
                    <span className="hint">—</span>
                  ) : (
                    <Untrusted className="mono" title={r.agentId} text={shortId(r.agentId)} />
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
