// Pure helpers of the audit page: its filters as the URL keeps them and as
// the API takes them, and how decisions and procedures read.
import { timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { AuditDecision } from "../../gen/ferry/v1/audit_pb";

/** The decisions a person can filter by, as the URL names them. */
export const decisionNames = ["allow", "deny", "none"] as const;

/** A decision's name in the URL; "" matches every decision. */
export type DecisionName = (typeof decisionNames)[number] | "";

/** The audit page's filters, as kept in the URL query. Times are ISO 8601
 * instants; "" is an unset filter. */
export interface AuditFilters {
  actor: string;
  procedure: string;
  resource: string;
  decision: DecisionName;
  from: string;
  to: string;
}

/** The filters that match everything. */
export const noFilters: AuditFilters = { actor: "", procedure: "", resource: "", decision: "", from: "", to: "" };

const decisionValues: Record<Exclude<DecisionName, "">, AuditDecision> = {
  allow: AuditDecision.ALLOW,
  deny: AuditDecision.DENY,
  none: AuditDecision.NONE,
};

/** Reads the filters from a URL query, dropping values that do not parse. */
export function parseAuditFilters(q: URLSearchParams): AuditFilters {
  const decision = q.get("decision") ?? "";
  const instant = (key: string) => {
    const v = q.get(key) ?? "";
    return v !== "" && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : "";
  };
  return {
    actor: (q.get("actor") ?? "").trim(),
    procedure: (q.get("procedure") ?? "").trim(),
    resource: (q.get("resource") ?? "").trim(),
    decision: (decisionNames as readonly string[]).includes(decision) ? (decision as DecisionName) : "",
    from: instant("from"),
    to: instant("to"),
  };
}

/** Writes the filters as a URL query, leaving out unset ones. */
export function auditFiltersToQuery(f: AuditFilters): URLSearchParams {
  const q = new URLSearchParams();
  for (const key of ["actor", "procedure", "resource", "decision", "from", "to"] as const) {
    const v = f[key].trim();
    if (v !== "") q.set(key, v);
  }
  return q;
}

/** The ListAuditEvents request fields of the filters (without paging). */
export interface AuditRequestFilters {
  actor: string;
  procedure: string;
  resource: string;
  decision: AuditDecision;
  startTime?: Timestamp;
  endTime?: Timestamp;
}

/** Converts the filters to the fields of a ListAuditEvents request. */
export function auditRequest(f: AuditFilters): AuditRequestFilters {
  return {
    actor: f.actor,
    procedure: f.procedure,
    resource: f.resource,
    decision: f.decision === "" ? AuditDecision.UNSPECIFIED : decisionValues[f.decision],
    startTime: f.from === "" ? undefined : timestampFromDate(new Date(f.from)),
    endTime: f.to === "" ? undefined : timestampFromDate(new Date(f.to)),
  };
}

/** Returns how a decision reads in the table and the badge class that colors it. */
export function decisionLabel(d: AuditDecision): { label: string; className: string } {
  switch (d) {
    case AuditDecision.ALLOW:
      return { label: "allowed", className: "decision-allowed" };
    case AuditDecision.DENY:
      return { label: "denied", className: "decision-denied" };
    case AuditDecision.NONE:
      return { label: "no decision", className: "decision-none" };
    default:
      return { label: "unknown", className: "decision-none" };
  }
}

/** Shortens "/ferry.v1.RunService/CreateRun" to "RunService/CreateRun";
 * other procedures stay as they are. */
export function shortProcedure(p: string): string {
  return p.startsWith("/ferry.v1.") ? p.slice("/ferry.v1.".length) : p;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Converts an ISO instant to the value of a datetime-local input, in the
 * person's time zone; "" stays "". */
export function toLocalInput(iso: string): string {
  if (iso === "") return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Converts a datetime-local input's value (local time) to an ISO instant;
 * "" or a value that does not parse gives "". */
export function fromLocalInput(value: string): string {
  if (value === "") return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (m === null) return "";
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as number[];
  const date = new Date(y!, mo! - 1, d!, h!, mi!, s!);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}
