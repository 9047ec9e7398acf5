import { describe, expect, it } from "vitest";
import { RunState } from "../../gen/ferry/v1/run_pb";
import { barGeometry, labelStep, niceCeiling, stateTotals, statsSummary, type StatsBucket } from "./chart";

const t0 = new Date("2026-03-01T10:00:00Z");
const hour = (i: number) => new Date(t0.getTime() + i * 3_600_000);

describe("niceCeiling", () => {
  const cases: [number, number][] = [
    [0, 1],
    [1, 1],
    [2, 2],
    [3, 5],
    [7, 10],
    [10, 10],
    [11, 20],
    [250, 500],
    [1001, 2000],
  ];
  it.each(cases)("rounds %d up to %d", (n, want) => {
    expect(niceCeiling(n)).toBe(want);
  });
});

describe("barGeometry", () => {
  it("stacks segments in lifecycle order from the bottom, in proportion to the counts", () => {
    const buckets: StatsBucket[] = [
      { start: hour(0), counts: [{ state: RunState.FAILED, count: 2n }, { state: RunState.COMPLETED, count: 6n }] },
      { start: hour(1), counts: [] },
      { start: hour(2), counts: [{ state: RunState.RUNNING, count: 10n }, { state: RunState.CANCELLED, count: 0n }] },
      { start: hour(3), counts: [{ state: RunState.SCHEDULED, count: 1n }] },
    ];
    const g = barGeometry(buckets, { width: 400, height: 100, gap: 0.5 });
    expect(g.top).toBe(10);
    expect(g.ticks).toEqual([
      { value: 0, y: 100 },
      { value: 5, y: 50 },
      { value: 10, y: 0 },
    ]);
    expect(g.bars.map((b) => [b.x, b.width, b.total])).toEqual([
      [25, 50, 8n],
      [125, 50, 0n],
      [225, 50, 10n],
      [325, 50, 1n],
    ]);
    // Completed (6) at the bottom, Failed (2) on top of it.
    expect(g.bars[0]?.segments.map((s) => [s.state, s.y, s.height])).toEqual([
      [RunState.COMPLETED, 40, 60],
      [RunState.FAILED, 20, 20],
    ]);
    expect(g.bars[1]?.segments).toEqual([]);
    // A state counted zero draws nothing; the tallest bar reaches the top.
    expect(g.bars[2]?.segments.map((s) => [s.state, s.y, s.height])).toEqual([[RunState.RUNNING, 0, 100]]);
    expect(g.bars[3]?.segments.map((s) => [s.y, s.height])).toEqual([[90, 10]]);
  });

  it("leaves segments touching, without gaps or overlaps, whatever the scale", () => {
    const counts = [RunState.PENDING, RunState.RUNNING, RunState.COMPLETED, RunState.FAILED].map((state, i) => ({
      state,
      count: BigInt(3 * i + 1),
    }));
    const g = barGeometry([{ start: hour(0), counts }], { width: 37, height: 173 });
    const segs = g.bars[0]?.segments ?? [];
    expect(segs).toHaveLength(4);
    for (let i = 1; i < segs.length; i++) {
      expect(segs[i]!.y + segs[i]!.height).toBeCloseTo(segs[i - 1]!.y, 9);
    }
    expect(segs[0]!.y + segs[0]!.height).toBeCloseTo(173, 9);
  });

  it("draws an all-empty window as bars of no height on a 0..1 axis", () => {
    const g = barGeometry([{ start: hour(0), counts: [] }], { width: 10, height: 10 });
    expect(g.top).toBe(1);
    expect(g.ticks.map((t) => t.value)).toEqual([0, 1]);
    expect(g.bars[0]?.segments).toEqual([]);
  });

  it("keeps counts beyond 2^53 exact on the bars", () => {
    const huge = 9007199254740993n;
    const g = barGeometry([{ start: hour(0), counts: [{ state: RunState.COMPLETED, count: huge }] }], { width: 10, height: 10 });
    expect(g.bars[0]?.total).toBe(huge);
    expect(g.bars[0]?.segments[0]?.count).toBe(huge);
  });
});

describe("labelStep", () => {
  const cases: [number, number, number][] = [
    [24, 720, 3],
    [24, 300, 6],
    [28, 1000, 2],
    [4, 1000, 1],
    [0, 100, 1],
  ];
  it.each(cases)("%d bars over %d px label every %d", (bars, width, want) => {
    expect(labelStep(bars, width)).toBe(want);
  });
});

describe("statsSummary", () => {
  const fmt = (d: Date) => d.toISOString().slice(11, 16);
  const cases: { name: string; buckets: StatsBucket[]; want: string }[] = [
    {
      name: "empty window",
      buckets: [
        { start: hour(0), counts: [] },
        { start: hour(1), counts: [{ state: RunState.FAILED, count: 0n }] },
      ],
      want: "No runs created in the last 24 hours.",
    },
    {
      name: "one run",
      buckets: [
        { start: hour(0), counts: [] },
        { start: hour(1), counts: [{ state: RunState.RUNNING, count: 1n }] },
      ],
      want: "1 run created in the last 24 hours, by state now: 1 running. Busiest: 1 run from 11:00.",
    },
    {
      name: "states summed over buckets in lifecycle order",
      buckets: [
        { start: hour(0), counts: [{ state: RunState.FAILED, count: 2n }, { state: RunState.COMPLETED, count: 3n }] },
        { start: hour(1), counts: [{ state: RunState.COMPLETED, count: 7n }, { state: RunState.SCHEDULED, count: 1n }] },
        { start: hour(2), counts: [{ state: RunState.CANCELLED, count: 4n }] },
      ],
      want: "17 runs created in the last 24 hours, by state now: 1 scheduled, 10 completed, 2 failed, 4 cancelled. Busiest: 8 runs from 11:00.",
    },
  ];
  it.each(cases)("$name", ({ buckets, want }) => {
    expect(statsSummary(buckets, "the last 24 hours", fmt)).toBe(want);
  });

  it("totals exactly beyond 2^53", () => {
    const b: StatsBucket[] = [
      { start: hour(0), counts: [{ state: RunState.COMPLETED, count: 9007199254740993n }] },
      { start: hour(1), counts: [{ state: RunState.COMPLETED, count: 2n }] },
    ];
    expect(stateTotals(b)).toEqual([{ state: RunState.COMPLETED, count: 9007199254740995n }]);
    expect(statsSummary(b, "the last day", fmt)).toContain("9007199254740995 runs created");
  });
});
