import type { Duration } from "@bufbuild/protobuf/wkt";
import { formatDuration } from "../../lib/time";

/** Formats a protobuf Duration for reading, or "" when unset. */
export function durationText(d: Duration | undefined): string {
  if (d === undefined) return "";
  return formatDuration(Number(d.seconds) * 1000 + d.nanos / 1e6);
}
