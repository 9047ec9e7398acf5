import { Link } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { useClient } from "../../api/clients";
import { RunService } from "../../gen/ferry/v1/run_pb";
import { EmptyState, ErrorNotice, Loading } from "../../components/Notice";
import { RunLink } from "../../components/RunLink";
import { StateBadge } from "../../components/StateBadge";
import { Untrusted } from "../../components/Untrusted";
import { showUntrusted } from "../../lib/bidi";
import { formatRelative, formatTime } from "../../lib/time";

const recent = 10;

/** The newest runs of a deployment, with a link to all of them. */
export function RecentRuns({ deployment }: { deployment: string }) {
  const runs = useClient(RunService);
  const q = useQuery({
    queryKey: ["runs", "list", { deployment, pageSize: recent }],
    queryFn: ({ signal }) => runs.listRuns({ deployment, pageSize: recent }, { signal }),
    refetchInterval: 10_000,
  });
  const all = `/runs?deployment=${encodeURIComponent(deployment)}`;
  if (q.isPending) return <Loading what="Loading runs" />;
  if (q.isError) return <ErrorNotice error={q.error} what="Cannot list runs" onRetry={() => void q.refetch()} />;
  if (q.data.runs.length === 0) {
    return (
      <EmptyState title="No runs yet.">
        Start one with the form above or with <code>ferry run start {showUntrusted(deployment)}</code>.
      </EmptyState>
    );
  }
  return (
    <>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">State</th>
              <th scope="col" className="num">Version</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {q.data.runs.map((r) => (
              <tr key={r.id}>
                <th scope="row">
                  <RunLink id={r.id} />
                </th>
                <td>
                  <StateBadge state={r.state} detail={r.stateName} />
                </td>
                <td className="num">{r.deploymentVersion}</td>
                <td title={formatTime(r.createTime)}>{formatRelative(r.createTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p>
        <Link to={all}>
          All runs of <Untrusted text={deployment} />
        </Link>
      </p>
    </>
  );
}
