// A run's state history as the detail page shows it: each entry with how
// long the run stayed in that state, grouped by attempt.
import type { RunStateChange } from "../../gen/ferry/v1/run_pb";
import { toDate } from "../../lib/time";

/** One state change and how long the run stayed in the state it entered. */
export interface TimelineEntry {
  change: RunStateChange;
  /** at is when the change happened. */
  at: Date | undefined;
  /** durationMs is the time until the next change, or until now for the
   * run's current state; undefined for a final state or an unknown time. */
  durationMs: number | undefined;
  /** ongoing reports whether the run is still in this state. */
  ongoing: boolean;
}

/** The changes of one attempt. */
export interface TimelineAttempt {
  attempt: number;
  entries: TimelineEntry[];
  /** durationMs spans the attempt's first change to the next attempt's
   * first change (or now, or the final change); undefined when unknown. */
  durationMs: number | undefined;
}

/** Groups changes (oldest first) by attempt and computes durations; final
 * reports whether the run has ended, now is the current time. */
export function buildTimeline(changes: readonly RunStateChange[], final: boolean, now: Date): TimelineAttempt[] {
  const times = changes.map((c) => toDate(c.time));
  const nowMs = now.getTime();
  const entries: TimelineEntry[] = changes.map((change, i) => {
    const at = times[i];
    const last = i === changes.length - 1;
    let end: number | undefined;
    if (!last) end = times[i + 1]?.getTime();
    else if (!final) end = nowMs;
    const durationMs = at !== undefined && end !== undefined ? Math.max(0, end - at.getTime()) : undefined;
    return { change, at, durationMs, ongoing: last && !final };
  });

  const groups: TimelineAttempt[] = [];
  for (const e of entries) {
    const g = groups[groups.length - 1];
    if (g !== undefined && g.attempt === e.change.attempt) g.entries.push(e);
    else groups.push({ attempt: e.change.attempt, entries: [e], durationMs: undefined });
  }
  groups.forEach((g, n) => {
    const start = g.entries[0]?.at?.getTime();
    const next = groups[n + 1]?.entries[0]?.at?.getTime();
    let end: number | undefined = next;
    if (end === undefined) end = final ? g.entries[g.entries.length - 1]?.at?.getTime() : nowMs;
    g.durationMs = start !== undefined && end !== undefined ? Math.max(0, end - start) : undefined;
  });
  return groups;
}

/** Returns the id of the last agent named as the actor of a change
 * ("agent:ID"), or "": the run itself forgets its agent when it ends. */
export function lastAgent(changes: readonly RunStateChange[]): string {
  for (let i = changes.length - 1; i >= 0; i--) {
    const actor = changes[i]!.actor;
    if (actor.startsWith("agent:")) return actor.slice("agent:".length);
  }
  return "";
}
