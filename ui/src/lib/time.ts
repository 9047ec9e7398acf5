import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

/** Converts an optional protobuf Timestamp to a Date, or undefined. */
export function toDate(ts: Timestamp | undefined): Date | undefined {
  return ts === undefined ? undefined : timestampDate(ts);
}

/** Formats a time as the person's local date and time, to the second. */
export function formatTime(ts: Timestamp | Date | undefined): string {
  const d = ts instanceof Date ? ts : toDate(ts);
  if (d === undefined) return "—";
  return d.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** Formats a duration in milliseconds compactly: 850 ms, 12.3 s, 4 min 5 s, 2 h 3 min, 3 d 4 h. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Formats how long ago a time was, relative to now: "12 s ago", "in 3 min". */
export function formatRelative(ts: Timestamp | Date | undefined, now: Date = new Date()): string {
  const d = ts instanceof Date ? ts : toDate(ts);
  if (d === undefined) return "—";
  const diff = now.getTime() - d.getTime();
  return diff >= 0 ? `${formatDuration(diff)} ago` : `in ${formatDuration(-diff)}`;
}
