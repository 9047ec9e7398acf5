import { useState } from "react";
import { Link } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { useClient } from "../api/clients";
import { DeploymentService } from "../gen/ferry/v1/deployment_pb";
import { ScheduleService } from "../gen/ferry/v1/schedule_pb";
import { EmptyState, ErrorNotice, Loading } from "../components/Notice";
import { PageHeader } from "../components/PageHeader";
import { Untrusted } from "../components/Untrusted";
import { formatRelative, formatTime } from "../lib/time";
import { Tags } from "./deployments/Tags";

const pageSize = 50;
// One page of schedules is enough to count them for a page of deployments;
// past it the counts are shown as lower bounds.
const schedulePageSize = 1000;

/** Lists the workspace's deployments, a page at a time. */
export default function Deployments() {
  const deployments = useClient(DeploymentService);
  const schedules = useClient(ScheduleService);
  // tokens[i] is the page token of page i; page 0 has "".
  const [tokens, setTokens] = useState<string[]>([""]);
  const page = tokens.length - 1;
  const list = useQuery({
    queryKey: ["deployments", "list", tokens[page]],
    queryFn: ({ signal }) => deployments.listDeployments({ pageSize, pageToken: tokens[page] }, { signal }),
  });
  const counts = useQuery({
    queryKey: ["schedules", "count"],
    queryFn: async ({ signal }) => {
      const res = await schedules.listSchedules({ pageSize: schedulePageSize }, { signal });
      const byName = new Map<string, number>();
      for (const s of res.schedules) byName.set(s.deployment, (byName.get(s.deployment) ?? 0) + 1);
      return { byName, partial: res.nextPageToken !== "" };
    },
  });

  const scheduleCount = (name: string) => {
    if (counts.isError) return "—";
    if (counts.data === undefined) return "…";
    const n = counts.data.byName.get(name) ?? 0;
    return counts.data.partial ? `≥ ${n}` : String(n);
  };

  return (
    <>
      <PageHeader title="Deployments" />
      {list.isPending && <Loading what="Loading deployments" />}
      {list.isError && <ErrorNotice error={list.error} what="Cannot list deployments" onRetry={() => void list.refetch()} />}
      {counts.isError && <ErrorNotice error={counts.error} what="Cannot count schedules" onRetry={() => void counts.refetch()} />}
      {list.data && list.data.deployments.length === 0 && page === 0 && (
        <EmptyState title="No deployments yet.">
          Apply a deployment with <code>ferry apply -f ferry.yaml</code>.
        </EmptyState>
      )}
      {list.data && list.data.deployments.length > 0 && (
        <div className="table-wrap">
          <table className="deployments-table">
            <caption className="visually-hidden">Deployments, by name</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Pool</th>
                <th scope="col">Queue</th>
                <th scope="col" className="num">Version</th>
                <th scope="col">Tags</th>
                <th scope="col" className="num">Schedules</th>
                <th scope="col">Updated</th>
                <th scope="col">Dispatch</th>
              </tr>
            </thead>
            <tbody>
              {list.data.deployments.map((d) => (
                <tr key={d.id}>
                  <th scope="row">
                    <Link to={`/deployments/${encodeURIComponent(d.name)}`}>
                      <Untrusted text={d.name} />
                    </Link>
                    {d.spec?.description && <Untrusted className="hint deployment-summary" text={d.spec.description} title={d.spec.description} />}
                  </th>
                  <td>
                    <Untrusted text={d.spec?.pool ?? ""} />
                  </td>
                  <td>{d.spec?.queue ? <Untrusted text={d.spec.queue} /> : <span className="hint">default</span>}</td>
                  <td className="num">{d.version}</td>
                  <td>
                    <Tags tags={d.spec?.tags ?? []} />
                  </td>
                  <td className="num">{scheduleCount(d.name)}</td>
                  <td title={formatTime(d.updateTime)}>{formatRelative(d.updateTime)}</td>
                  <td>
                    {d.paused ? (
                      <span className="badge state-cancelled">Paused</span>
                    ) : (
                      <span className="badge state-completed">Active</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data && (page > 0 || list.data.nextPageToken !== "") && (
        <nav className="pager" aria-label="Pages of deployments">
          <button type="button" disabled={page === 0} onClick={() => setTokens(tokens.slice(0, -1))}>
            Previous page
          </button>
          <span className="hint">Page {page + 1}</span>
          <button type="button" disabled={list.data.nextPageToken === ""} onClick={() => setTokens([...tokens, list.data.nextPageToken])}>
            Next page
          </button>
        </nav>
      )}
    </>
  );
}
