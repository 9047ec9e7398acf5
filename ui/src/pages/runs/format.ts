// Small presentation helpers shared by the runs list and the run page.
import type { Run } from "../../gen/ferry/v1/run_pb";
import { isFinal } from "../../components/runState";
import { toDate } from "../../lib/time";

const uuidRE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reports whether text is a UUID as run ids are written. */
export function isUuid(text: string): boolean {
  return uuidRE.test(text);
}

export { shortId } from "../../lib/ids";

/** Returns how long a run has run: start to end, or start to now while it
 * is not final; undefined before it started. */
export function runDurationMs(r: Run, now: Date): number | undefined {
  const start = toDate(r.startTime);
  if (start === undefined) return undefined;
  const end = toDate(r.endTime) ?? (isFinal(r.state) ? undefined : now);
  return end === undefined ? undefined : Math.max(0, end.getTime() - start.getTime());
}
