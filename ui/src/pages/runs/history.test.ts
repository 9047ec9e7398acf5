import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { RunState, RunStateChangeSchema } from "../../gen/ferry/v1/run_pb";
import { buildTimeline, lastAgent } from "./history";

const t0 = Date.parse("2026-12-04T12:00:00Z");
const change = (attempt: number, to: RunState, atSec: number) =>
  create(RunStateChangeSchema, { attempt, toState: to, time: timestampFromDate(new Date(t0 + atSec * 1000)) });

describe("buildTimeline", () => {
  const history = [
    change(1, RunState.SCHEDULED, 0),
    change(1, RunState.PENDING, 2),
    change(1, RunState.RUNNING, 3),
    change(1, RunState.FAILED, 13),
    change(2, RunState.SCHEDULED, 43),
    change(2, RunState.PENDING, 44),
    change(2, RunState.RUNNING, 45),
  ];

  it("gives each state the time until the next change, grouped by attempt", () => {
    const now = new Date(t0 + 60_000);
    const tl = buildTimeline(history, false, now);
    expect(tl.map((g) => g.attempt)).toEqual([1, 2]);
    expect(tl[0]!.entries.map((e) => e.durationMs)).toEqual([2000, 1000, 10_000, 30_000]);
    expect(tl[0]!.durationMs).toBe(43_000);
    expect(tl[1]!.entries.map((e) => e.durationMs)).toEqual([1000, 1000, 15_000]);
    expect(tl[1]!.entries.map((e) => e.ongoing)).toEqual([false, false, true]);
    expect(tl[1]!.durationMs).toBe(17_000);
  });

  it("gives a final state no duration and ends the attempt at it", () => {
    const done = [...history, change(2, RunState.COMPLETED, 50)];
    const tl = buildTimeline(done, true, new Date(t0 + 3_600_000));
    const last = tl[1]!.entries[3]!;
    expect([last.durationMs, last.ongoing]).toEqual([undefined, false]);
    expect(tl[1]!.entries[2]!.durationMs).toBe(5000);
    expect(tl[1]!.durationMs).toBe(7000);
  });

  it("handles an empty history and a missing time", () => {
    expect(buildTimeline([], false, new Date(t0))).toEqual([]);
    const odd = [create(RunStateChangeSchema, { attempt: 1, toState: RunState.SCHEDULED }), change(1, RunState.PENDING, 5)];
    const tl = buildTimeline(odd, false, new Date(t0 + 10_000));
    expect(tl[0]!.entries.map((e) => e.durationMs)).toEqual([undefined, 5000]);
    expect(tl[0]!.durationMs).toBeUndefined();
  });

  it("never shows a negative duration when clocks disagree", () => {
    const skewed = [change(1, RunState.SCHEDULED, 10), change(1, RunState.PENDING, 5)];
    expect(buildTimeline(skewed, false, new Date(t0))[0]!.entries.map((e) => e.durationMs)).toEqual([0, 0]);
  });
});

describe("lastAgent", () => {
  it("finds the newest agent actor", () => {
    const c = (actor: string) => create(RunStateChangeSchema, { actor });
    expect(lastAgent([c("apikey:x"), c("agent:a1"), c("agent:a2"), c("user:bob")])).toBe("a2");
    expect(lastAgent([c("apikey:x")])).toBe("");
    expect(lastAgent([])).toBe("");
  });
});
