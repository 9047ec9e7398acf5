// The runs list's filters live in the address bar, so a link or a reload
// shows the same runs. These functions turn the query string into filters,
// filters into a query string, and filters into a ListRuns request.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ListRunsRequestSchema, RunState } from "../../gen/ferry/v1/run_pb";
import { parseStateName, runStates, stateName } from "../../components/runState";

/** What the runs list is narrowed to; empty fields filter nothing. */
export interface RunFilters {
  /** states keeps runs in any of these states, in lifecycle order. */
  states: RunState[];
  /** deployment keeps the runs of one deployment. */
  deployment: string;
  /** tags keeps runs carrying every one of these tags. */
  tags: string[];
  /** createdAfter keeps runs created at or after this time. */
  createdAfter: Date | undefined;
  /** createdBefore keeps runs created before this time. */
  createdBefore: Date | undefined;
  /** late keeps only the runs that are Late now. */
  late: boolean;
}

/** The filters of an address without a query string. */
export const noFilters: RunFilters = {
  states: [],
  deployment: "",
  tags: [],
  createdAfter: undefined,
  createdBefore: undefined,
  late: false,
};

/** The most tags ListRuns accepts. */
export const maxTags = 8;

/** Splits repeated and comma-separated values of one parameter ("a,b" and a=..&a=..). */
function values(params: URLSearchParams, key: string): string[] {
  return params
    .getAll(key)
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

function parseTime(text: string | null): Date | undefined {
  if (text === null || text.trim() === "") return undefined;
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Reads filters from a query string; unknown state names and bad times are ignored. */
export function parseFilters(params: URLSearchParams): RunFilters {
  const picked = new Set<RunState>();
  for (const name of values(params, "state")) {
    const s = parseStateName(name);
    if (s !== undefined) picked.add(s);
  }
  const tags = [...new Set(values(params, "tag"))];
  const late = params.get("late");
  return {
    states: runStates.filter((s) => picked.has(s)),
    deployment: (params.get("deployment") ?? "").trim(),
    tags,
    createdAfter: parseTime(params.get("after")),
    createdBefore: parseTime(params.get("before")),
    late: late === "1" || late === "true",
  };
}

/** Returns what parseFilters ignores in params, each named with its value
 * and why, such as `state “bogus” (not a run state)`, so the page can say so. */
export function ignoredFilters(params: URLSearchParams): string[] {
  const out: string[] = [];
  for (const name of values(params, "state")) {
    if (parseStateName(name) === undefined) out.push(`state “${name}” (not a run state)`);
  }
  for (const key of ["after", "before"]) {
    const text = params.get(key);
    if (text !== null && text.trim() !== "" && parseTime(text) === undefined) out.push(`${key} “${text}” (not a time)`);
  }
  const late = params.get("late");
  if (late !== null && !["", "0", "1", "false", "true"].includes(late)) out.push(`late “${late}” (use 1 or 0)`);
  return out;
}

/** Writes filters as a query string (without "?"); no filters give "". */
export function formatFilters(f: RunFilters): string {
  const p = new URLSearchParams();
  if (f.states.length > 0) p.set("state", f.states.map((s) => stateName(s).toLowerCase()).join(","));
  if (f.deployment !== "") p.set("deployment", f.deployment);
  for (const t of f.tags) p.append("tag", t);
  if (f.createdAfter) p.set("after", f.createdAfter.toISOString());
  if (f.createdBefore) p.set("before", f.createdBefore.toISOString());
  if (f.late) p.set("late", "1");
  return p.toString();
}

/** Reports whether any filter is set. */
export function hasFilters(f: RunFilters): boolean {
  return formatFilters(f) !== "";
}

/** Builds the ListRuns request of filters and one page token. */
export function listRequest(f: RunFilters, pageToken: string, pageSize: number): MessageInitShape<typeof ListRunsRequestSchema> {
  return {
    pageSize,
    pageToken,
    states: f.states,
    deployment: f.deployment,
    tags: f.tags,
    createdAfter: f.createdAfter ? timestampFromDate(f.createdAfter) : undefined,
    createdBefore: f.createdBefore ? timestampFromDate(f.createdBefore) : undefined,
    late: f.late,
  };
}

/** Splits a text field of tags ("a, b c") into distinct tags. */
export function parseTagList(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter((t) => t !== ""))];
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Formats a time for an <input type="datetime-local"> in the person's time zone; undefined gives "". */
export function toLocalInput(d: Date | undefined): string {
  if (d === undefined) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Reads the value of an <input type="datetime-local"> as local time; "" or garbage give undefined. */
export function fromLocalInput(text: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? "0")) as [number, number, number, number, number, number];
  const date = new Date(y, mo - 1, d, h, mi, s);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
