import type { RunState } from "../gen/ferry/v1/run_pb";
import { stateName } from "./runState";
import { showUntrusted } from "../lib/bidi";

/** Shows a run state as a colored label; detail (such as "Late") refines it. */
export function StateBadge({ state, detail }: { state: RunState; detail?: string }) {
  const name = stateName(state);
  const refined = detail && detail !== name ? showUntrusted(detail) : "";
  return (
    <span className={`badge state-${name.toLowerCase()}`} title={refined ? `${name}: ${refined}` : name}>
      {name}
      {refined && <span className="badge-detail"> · {refined}</span>}
    </span>
  );
}
