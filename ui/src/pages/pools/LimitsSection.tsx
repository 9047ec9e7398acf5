import { useQuery } from "@tanstack/react-query";
import { useClient } from "../../api/clients";
import { EmptyState, ErrorNotice, Loading } from "../../components/Notice";
import { RunLink } from "../../components/RunLink";
import { Untrusted } from "../../components/Untrusted";
import { ConcurrencyLimitService } from "../../gen/ferry/v1/limits_pb";
import { refreshMs } from "./queries";

// How many of the runs holding a limit's slots are linked by id.
const shownHolders = 5;

/** Lists the workspace's named concurrency limits with the runs holding their slots now. */
export function LimitsSection() {
  const client = useClient(ConcurrencyLimitService);
  const limits = useQuery({
    queryKey: ["ConcurrencyLimitService.ListConcurrencyLimits"],
    queryFn: ({ signal }) => client.listConcurrencyLimits({}, { signal }),
    refetchInterval: refreshMs,
  });
  return (
    <section aria-labelledby="limits">
      <h2 id="limits">Concurrency limits</h2>
      <p className="hint">
        A run counts against a named limit when it carries every tag of the limit, or when its deployment names the limit. A slot
        is free again as soon as its run ends.
      </p>
      {limits.isPending && <Loading what="Loading concurrency limits" />}
      {limits.isError && <ErrorNotice error={limits.error} what="Cannot list the concurrency limits" onRetry={() => void limits.refetch()} />}
      {limits.isSuccess && limits.data.limits.length === 0 && (
        <EmptyState title="No named concurrency limits.">
          Create one with <code>ferry limit apply NAME --slots N --tag TAG</code> to cap how many matching runs are active at once.
        </EmptyState>
      )}
      {limits.isSuccess && limits.data.limits.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Limit</th>
                <th scope="col">Tags</th>
                <th scope="col" className="num">
                  In use
                </th>
                <th scope="col">Runs holding a slot</th>
                <th scope="col">Description</th>
              </tr>
            </thead>
            <tbody>
              {limits.data.limits.map((l) => (
                <tr key={l.name}>
                  <th scope="row">
                    <Untrusted text={l.name} />
                  </th>
                  <td>{l.tags.length === 0 ? <span className="hint">deployments naming it</span> : <Untrusted text={l.tags.join(", ")} />}</td>
                  <td className="num">
                    {l.activeRunIds.length} of {l.slots}
                  </td>
                  <td>
                    {l.activeRunIds.length === 0 && <span className="hint">none</span>}
                    {l.activeRunIds.slice(0, shownHolders).map((id, i) => (
                      <span key={id}>
                        {i > 0 && ", "}
                        <RunLink id={id} />
                      </span>
                    ))}
                    {l.activeRunIds.length > shownHolders && <span className="hint"> and {l.activeRunIds.length - shownHolders} more</span>}
                  </td>
                  <td>{l.description ? <Untrusted text={l.description} /> : <span className="hint">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
