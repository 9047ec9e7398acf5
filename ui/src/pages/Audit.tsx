import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useClient } from "../api/clients";
import { AuditService, type AuditEvent } from "../gen/ferry/v1/audit_pb";
import { EmptyState, ErrorNotice, Loading } from "../components/Notice";
import { PageHeader } from "../components/PageHeader";
import { formatTime } from "../lib/time";
import {
  auditFiltersToQuery,
  auditRequest,
  decisionLabel,
  fromLocalInput,
  noFilters,
  parseAuditFilters,
  shortProcedure,
  toLocalInput,
  type AuditFilters,
  type DecisionName,
} from "./admin/audit";
import { Untrusted } from "../components/Untrusted";
import { showUntrusted } from "../lib/bidi";

const pageSize = 50;

/** The audit trail: every mutating and every denied call, newest first,
 * filtered by the URL's query and paged by cursor. */
export default function Audit() {
  const audit = useClient(AuditService);
  const [params, setParams] = useSearchParams();
  const filters = parseAuditFilters(params);
  const q = useInfiniteQuery({
    queryKey: ["audit", filters],
    queryFn: ({ pageParam, signal }) =>
      audit.listAuditEvents({ ...auditRequest(filters), pageSize, pageToken: pageParam }, { signal }),
    initialPageParam: "",
    getNextPageParam: (last) => last.nextPageToken || undefined,
  });
  const events = q.data?.pages.flatMap((p) => p.events) ?? [];
  const filtered = auditFiltersToQuery(filters).size > 0;
  const link = (change: Partial<AuditFilters>) => `?${auditFiltersToQuery({ ...filters, ...change }).toString()}`;

  return (
    <>
      <PageHeader title="Audit log">
        <button type="button" onClick={() => void q.refetch()} disabled={q.isFetching}>
          {q.isFetching && !q.isFetchingNextPage ? "Refreshing…" : "Refresh"}
        </button>
      </PageHeader>
      <p className="hint">Every call that changed something and every call that was refused, newest first.</p>
      <AuditFilterForm key={params.toString()} filters={filters} onApply={(f) => setParams(auditFiltersToQuery(f))} />
      {q.isError && (
        <ErrorNotice
          error={q.error}
          what={q.isFetchNextPageError ? "Cannot load older events" : "Cannot load the audit log"}
          onRetry={() => void (q.isFetchNextPageError ? q.fetchNextPage() : q.refetch())}
        />
      )}
      {q.isPending ? (
        <Loading what="Loading the audit log" />
      ) : q.data === undefined ? null : events.length === 0 ? (
        <EmptyState title={filtered ? "No events match these filters." : "No audited calls yet."}>
          {filtered ? (
            <>
              Widen the filters or <Link to="/audit">show every event</Link>.
            </>
          ) : (
            "Calls that change something (such as ferry apply) and refused calls appear here."
          )}
        </EmptyState>
      ) : (
        <>
          <div className="table-wrap">
            <table className="admin-table stack-table">
              <caption className="hint">
                {events.length} event{events.length === 1 ? "" : "s"}
                {q.hasNextPage ? " shown; older ones follow" : ""}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Procedure</th>
                  <th scope="col">Resource</th>
                  <th scope="col">Decision</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Result</th>
                  <th scope="col">Request id</th>
                  <th scope="col">Source</th>
                </tr>
              </thead>
              <tbody>
                {events.map((e) => (
                  <AuditRow key={e.id.toString()} event={e} link={link} />
                ))}
              </tbody>
            </table>
          </div>
          {q.hasNextPage && (
            <p>
              <button type="button" onClick={() => void q.fetchNextPage()} disabled={q.isFetchingNextPage}>
                {q.isFetchingNextPage ? "Loading older events…" : "Load older events"}
              </button>
            </p>
          )}
        </>
      )}
    </>
  );
}

/** One event; actor, procedure and resource link to the log filtered by them. */
function AuditRow({ event: e, link }: { event: AuditEvent; link: (change: Partial<AuditFilters>) => string }) {
  const d = decisionLabel(e.decision);
  return (
    <tr>
      <td data-label="Time" className="nowrap">{formatTime(e.time)}</td>
      <td data-label="Actor">
        <Link to={link({ actor: e.actor })} className="mono" title={showUntrusted(`${e.actorKind}: show only this actor's calls`)}>
          {e.actor ? <Untrusted text={e.actor} /> : "—"}
        </Link>
      </td>
      <td data-label="Procedure">
        <Link to={link({ procedure: e.procedure })} className="mono" title={showUntrusted(`${e.procedure}: show only these calls`)}>
          <Untrusted text={shortProcedure(e.procedure)} />
        </Link>
      </td>
      <td data-label="Resource">
        {e.resource ? (
          <Link to={link({ resource: e.resource })} className="mono" title="Show only calls on this resource">
            <Untrusted text={e.resource} />
          </Link>
        ) : (
          "—"
        )}
      </td>
      <td data-label="Decision">
        <span className={`badge ${d.className}`}>{d.label}</span>
      </td>
      <td data-label="Reason" className="audit-reason">
        {e.reason ? <Untrusted text={e.reason} /> : "—"}
      </td>
      <td data-label="Result" className="mono">
        <Untrusted text={e.code} />
      </td>
      <td data-label="Request id" className="mono">
        <Untrusted text={e.requestId} />
      </td>
      <td data-label="Source" className="mono">
        <Untrusted text={e.sourceAddr} />
      </td>
    </tr>
  );
}

/** The filters; they apply on submit and live in the URL. */
function AuditFilterForm({ filters, onApply }: { filters: AuditFilters; onApply: (f: AuditFilters) => void }) {
  const [draft, setDraft] = useState(() => ({ ...filters, from: toLocalInput(filters.from), to: toLocalInput(filters.to) }));
  const set = (key: keyof AuditFilters) => (e: { target: { value: string } }) => setDraft({ ...draft, [key]: e.target.value });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onApply({ ...draft, from: fromLocalInput(draft.from), to: fromLocalInput(draft.to) });
  };
  return (
    <form className="filters" onSubmit={submit} aria-label="Filter the audit log">
      <label>
        Actor
        <input type="text" value={draft.actor} onChange={set("actor")} placeholder="apikey:ab12cd34" maxLength={256} />
      </label>
      <label>
        Procedure
        <input type="text" value={draft.procedure} onChange={set("procedure")} placeholder="/ferry.v1.RunService/CreateRun" maxLength={256} />
      </label>
      <label>
        Resource
        <input type="text" value={draft.resource} onChange={set("resource")} placeholder="deployment/etl" maxLength={512} />
      </label>
      <label>
        Decision
        <select value={draft.decision} onChange={(e) => setDraft({ ...draft, decision: e.target.value as DecisionName })}>
          <option value="">Any</option>
          <option value="allow">Allowed</option>
          <option value="deny">Denied</option>
          <option value="none">No decision (credentials refused)</option>
        </select>
      </label>
      <label>
        From
        <input type="datetime-local" value={draft.from} onChange={set("from")} />
      </label>
      <label>
        Before
        <input type="datetime-local" value={draft.to} onChange={set("to")} />
      </label>
      <button type="submit" className="primary">
        Apply filters
      </button>
      <button type="button" onClick={() => onApply(noFilters)}>
        Clear
      </button>
    </form>
  );
}
