import { RunState } from "../gen/ferry/v1/run_pb";

/** The run states a person can pick, in lifecycle order. */
export const runStates: RunState[] = [
  RunState.SCHEDULED,
  RunState.PENDING,
  RunState.RUNNING,
  RunState.COMPLETED,
  RunState.FAILED,
  RunState.CRASHED,
  RunState.CANCELLING,
  RunState.CANCELLED,
];

const names: Record<RunState, string> = {
  [RunState.UNSPECIFIED]: "Unknown",
  [RunState.SCHEDULED]: "Scheduled",
  [RunState.PENDING]: "Pending",
  [RunState.RUNNING]: "Running",
  [RunState.COMPLETED]: "Completed",
  [RunState.FAILED]: "Failed",
  [RunState.CRASHED]: "Crashed",
  [RunState.CANCELLING]: "Cancelling",
  [RunState.CANCELLED]: "Cancelled",
};

/** Returns the state's name as people read it, such as "Running". */
export function stateName(s: RunState): string {
  return names[s] ?? "Unknown";
}

/** Reports whether no more state changes follow s, short of a retry. */
export function isFinal(s: RunState): boolean {
  return s === RunState.COMPLETED || s === RunState.FAILED || s === RunState.CRASHED || s === RunState.CANCELLED;
}

/** Parses a state name from a URL ("running"), or undefined. */
export function parseStateName(name: string): RunState | undefined {
  return runStates.find((s) => stateName(s).toLowerCase() === name.toLowerCase());
}
