// The log tail keeps a bounded window of a run's lines in memory and finds
// what the person searches for in them.
import type { LogLine } from "../../gen/ferry/v1/run_pb";

/** The lines the page holds, the newest last.
 *
 * The page starts at the tail of the log (the last {@link tailLines} lines)
 * and keeps at most {@link maxLogLines}. Live lines are appended and, past
 * the bound, the oldest are let go; earlier lines are loaded a page at a time
 * from {@link LogBuffer.earlier} and prepended, but only into the room left
 * below the bound, so the newest lines (and following) are never given up
 * for old ones. Once the oldest kept lines were let go, the lines before them
 * can no longer be reached without a gap: `earlier` is cleared and the page
 * points to the CLI for the whole log. */
export interface LogBuffer {
  /** lines are the kept lines in order. */
  lines: LogLine[];
  /** dropped counts the older lines let go to stay within the bound. */
  dropped: number;
  /** earlier is the ListRunLogs backward token that reads the lines just
   * before the first kept one; "" when there are none or they cannot be joined. */
  earlier: string;
}

/** The buffer before any line arrived. */
export const emptyLog: LogBuffer = { lines: [], dropped: 0, earlier: "" };

/** The number of lines the page keeps by default. */
export const maxLogLines = 5000;

/** The number of last lines the page starts with (FollowRunLogsRequest.tail_lines). */
export const tailLines = 1000;

/** The number of lines "Load earlier lines" asks for at most. */
export const earlierPageSize = 1000;

/** Reports whether line a comes after line b in a run's log (by attempt, then seq). */
function after(a: LogLine, b: LogLine): boolean {
  return a.attempt > b.attempt || (a.attempt === b.attempt && a.seq > b.seq);
}

/** Returns buf with incoming appended, keeping the last max lines. Lines
 * not after the last kept one (a resumed stream repeating itself) are skipped.
 * earlier, the token of a follow's first message, is kept when these are the
 * buffer's first lines. */
export function appendLines(buf: LogBuffer, incoming: readonly LogLine[], max: number = maxLogLines, earlier = ""): LogBuffer {
  const last = buf.lines[buf.lines.length - 1];
  const fresh = last === undefined ? incoming : incoming.filter((l) => after(l, last));
  if (fresh.length === 0) return buf;
  const all = buf.lines.concat(fresh);
  const over = Math.max(0, all.length - max);
  const start = buf.lines.length === 0 ? earlier : buf.earlier;
  return { lines: over > 0 ? all.slice(over) : all, dropped: buf.dropped + over, earlier: over > 0 ? "" : start };
}

/** Returns how many earlier lines may still be loaded without passing max. */
export function earlierRoom(buf: LogBuffer, max: number = maxLogLines): number {
  return buf.earlier === "" ? 0 : Math.max(0, max - buf.lines.length);
}

/** Returns buf with older, a backward page read with buf.earlier, put
 * before its lines, and next (that page's next_page_token) as the new
 * earlier token. Lines not before the first kept one are skipped. When the
 * page does not fit below max, only its newest lines are kept and the rest
 * count as dropped. */
export function prependLines(buf: LogBuffer, older: readonly LogLine[], next: string, max: number = maxLogLines): LogBuffer {
  const first = buf.lines[0];
  let fresh = first === undefined ? older : older.filter((l) => after(first, l));
  const room = Math.max(0, max - buf.lines.length);
  let cut = 0;
  if (fresh.length > room) {
    cut = fresh.length - room;
    fresh = fresh.slice(cut);
  }
  return { lines: fresh.concat(buf.lines), dropped: buf.dropped + cut, earlier: cut > 0 ? "" : next };
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
