import { useEffect, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { useClient } from "../api/clients";
import { RunService } from "../gen/ferry/v1/run_pb";
import { EmptyState, ErrorNotice, Loading } from "../components/Notice";
import { PageHeader } from "../components/PageHeader";
import { FilterForm } from "./runs/FilterForm";
import { showUntrusted } from "../lib/bidi";
import { formatFilters, hasFilters, ignoredFilters, listRequest, noFilters, parseFilters, type RunFilters } from "./runs/filters";
import { currentToken, firstPage, hasNewer, newer, older, pageNumber, type Pager } from "./runs/pager";
import { RunsTable } from "./runs/RunsTable";

/** Runs shown per page. */
const pageSize = 50;

/** How often the shown page is asked for again while the tab is visible. */
const refreshMs = 5_000;

/** Lists runs newest first, filtered by the query string, paged with
 * ListRuns cursors and refreshed every few seconds. */
export default function Runs() {
  const client = useClient(RunService);
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => parseFilters(params), [params]);
  const ignored = useMemo(() => ignoredFilters(params), [params]);
  const filterKey = formatFilters(filters);

  // The pager belongs to one set of filters: tokens are valid only with the
  // filters that returned them, so new filters start at the newest page.
  const [paging, setPaging] = useState<{ key: string; pager: Pager }>({ key: filterKey, pager: firstPage });
  const pager = paging.key === filterKey ? paging.pager : firstPage;
  const token = currentToken(pager);
  const move = (p: Pager) => setPaging({ key: filterKey, pager: p });

  const q = useQuery({
    queryKey: ["runs", "list", filterKey, token],
    queryFn: ({ signal }) => client.listRuns(listRequest(filters, token, pageSize), { signal }),
    // Keep the rows on screen while the next page loads, but never show
    // rows of other filters under new ones.
    placeholderData: (prev, prevQuery) => (prevQuery?.queryKey[2] === filterKey ? prev : undefined),
    refetchInterval: refreshMs,
    staleTime: 0,
  });

  const now = useNow(q.dataUpdatedAt);
  const apply = (f: RunFilters) => setParams(formatFilters(f));
  const runs = q.data?.runs ?? [];
  const next = q.data?.nextPageToken ?? "";
  const filtered = hasFilters(filters);

  return (
    <>
      <PageHeader title="Runs" />
      <FilterForm key={filterKey} filters={filters} onApply={apply} />
      {ignored.length > 0 && (
        <div className="notice notice-warn" role="status">
          <strong>Ignored in the address: {showUntrusted(ignored.join("; "))}.</strong>
          <p>The list below is filtered without {ignored.length === 1 ? "it" : "them"}; applying the filters above rewrites the address.</p>
        </div>
      )}
      {q.isError && (
        <ErrorNotice
          error={q.error}
          what="Cannot list runs"
          onRetry={() => {
            move(firstPage);
            void q.refetch();
          }}
        />
      )}
      {q.isPending && !q.isError && <Loading what="Loading runs" />}
      {q.isSuccess && runs.length === 0 && <NoRuns filtered={filtered} later={hasNewer(pager)} onClear={() => apply(noFilters)} onNewest={() => move(firstPage)} />}
      {runs.length > 0 && (
        <>
          <RunsTable runs={runs} now={now} />
          <nav className="pager" aria-label="Pages of runs">
            <button type="button" disabled={!hasNewer(pager)} onClick={() => move(newer(pager))}>
              ← Newer
            </button>
            <span className="hint" aria-live="polite">
              Page {pageNumber(pager)} · {runs.length} run{runs.length === 1 ? "" : "s"}
              {q.isFetching ? " · updating…" : ""}
            </span>
            <button type="button" disabled={next === "" || q.isPlaceholderData} onClick={() => move(older(pager, next))}>
              Older →
            </button>
          </nav>
          <p className="hint">
            {pageNumber(pager) === 1 ? "New runs appear at the top on their own; " : "This page keeps its place as new runs arrive; "}
            states refresh every {refreshMs / 1000} s while this tab is visible.
          </p>
        </>
      )}
    </>
  );
}

/** Says why the list is empty and what to do. */
function NoRuns({ filtered, later, onClear, onNewest }: { filtered: boolean; later: boolean; onClear: () => void; onNewest: () => void }) {
  if (later) {
    return (
      <EmptyState title="No older runs.">
        <button type="button" onClick={onNewest}>
          Back to the newest runs
        </button>
      </EmptyState>
    );
  }
  if (filtered) {
    return (
      <EmptyState title="No runs match these filters.">
        <p>Remove a filter or widen the time range.</p>
        <button type="button" onClick={onClear}>
          Clear filters
        </button>
      </EmptyState>
    );
  }
  return (
    <EmptyState title="No runs yet.">
      <p>
        Start one from a deployment's page or with <code>ferry run start NAME</code>; runs appear here as they are created.
      </p>
    </EmptyState>
  );
}

/** Returns the current time, advanced whenever the data is refreshed so
 * durations of running runs grow with each refresh. */
function useNow(tick: number): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => setNow(new Date()), [tick]);
  return now;
}
