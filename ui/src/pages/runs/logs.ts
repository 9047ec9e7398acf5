// The log tail keeps a bounded window of a run's lines in memory and finds
// what the person searches for in them.
import type { LogLine } from "../../gen/ferry/v1/run_pb";

/** The lines the page holds, the newest last. */
export interface LogBuffer {
  /** lines are the kept lines in order. */
  lines: LogLine[];
  /** dropped counts the older lines let go to stay within the bound. */
  dropped: number;
}

/** The buffer before any line arrived. */
export const emptyLog: LogBuffer = { lines: [], dropped: 0 };

/** The number of lines the page keeps by default. */
export const maxLogLines = 5000;

/** Reports whether line a comes after line b in a run's log (by attempt, then seq). */
function after(a: LogLine, b: LogLine): boolean {
  return a.attempt > b.attempt || (a.attempt === b.attempt && a.seq > b.seq);
}

/** Returns buf with incoming appended, keeping the last max lines. Lines
 * not after the last kept one (a resumed stream repeating itself) are skipped. */
export function appendLines(buf: LogBuffer, incoming: readonly LogLine[], max: number = maxLogLines): LogBuffer {
  const last = buf.lines[buf.lines.length - 1];
  const fresh = last === undefined ? incoming : incoming.filter((l) => after(l, last));
  if (fresh.length === 0) return buf;
  const all = buf.lines.concat(fresh);
  const over = Math.max(0, all.length - max);
  return { lines: over > 0 ? all.slice(over) : all, dropped: buf.dropped + over };
}

/** Returns a stable key for a line: its attempt and sequence number. */
export function lineKey(l: LogLine): string {
  return `${l.attempt}:${l.seq.toString()}`;
}

/** A piece of a line's text, marked when it matches the search. */
export interface Segment {
  text: string;
  match: boolean;
}

/** Splits text into pieces, marking each case-insensitive occurrence of query; "" marks nothing. */
export function highlight(text: string, query: string): Segment[] {
  if (query === "") return [{ text, match: false }];
  const hay = text.toLowerCase();
  const needle = query.toLowerCase();
  // Lower-casing can change a string's length (such as "İ"); then the
  // offsets would not line up, so such lines match without marks.
  if (hay.length !== text.length || needle.length !== query.length) {
    return [{ text, match: false }];
  }
  const out: Segment[] = [];
  let at = 0;
  for (;;) {
    const i = hay.indexOf(needle, at);
    if (i < 0) break;
    if (i > at) out.push({ text: text.slice(at, i), match: false });
    out.push({ text: text.slice(i, i + needle.length), match: true });
    at = i + needle.length;
  }
  if (at < text.length || out.length === 0) out.push({ text: text.slice(at), match: false });
  return out;
}

/** Reports whether text contains query, ignoring case; "" matches every line. */
export function matches(text: string, query: string): boolean {
  return query === "" || text.toLowerCase().includes(query.toLowerCase());
}

/** Returns the lines that contain query, ignoring case. */
export function filterLines(lines: readonly LogLine[], query: string): readonly LogLine[] {
  if (query === "") return lines;
  const q = query.toLowerCase();
  return lines.filter((l) => l.text.toLowerCase().includes(q));
}
