// Pure geometry and wording of the dashboard's "runs by state" chart: the
// page converts the API's buckets to StatsBucket at its edge, and these
// functions turn them into rectangles and sentences.
import { RunState } from "../../gen/ferry/v1/run_pb";
import { runStates, stateName } from "../../components/runState";

/** StatsBucket is one bar's worth of runs: those created from start for one bucket width. */
export interface StatsBucket {
  /** start is when the bucket begins. */
  start: Date;
  /** counts holds the runs per state they are in now; states without runs may be left out. */
  counts: { state: RunState; count: bigint }[];
}

/** Segment is the rectangle of one state inside a bar. */
export interface Segment {
  state: RunState;
  count: bigint;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Bar is one bucket drawn: its place on the x axis and its stacked segments, bottom first. */
export interface Bar {
  start: Date;
  total: bigint;
  x: number;
  width: number;
  segments: Segment[];
}

/** Geometry is the chart laid out in a plot area of the given size, origin at its top left. */
export interface Geometry {
  bars: Bar[];
  /** top is the count at the top of the y axis: a round number at or above the tallest bar. */
  top: number;
  /** ticks are the y-axis counts to label, from 0 to top, with their y. */
  ticks: { value: number; y: number }[];
}

/** Layout is the size of the plot area in pixels and the gap between bars as a share of a slot. */
export interface Layout {
  width: number;
  height: number;
  gap?: number;
}

/** Returns the sum of a bucket's counts. */
export function bucketTotal(b: StatsBucket): bigint {
  return b.counts.reduce((sum, c) => sum + c.count, 0n);
}

/** Returns the smallest of 1, 2, 5 × 10^k that is at least n (1 for n ≤ 1). */
export function niceCeiling(n: number): number {
  if (!(n > 1)) return 1;
  const pow = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) {
    if (m * pow >= n) return m * pow;
  }
  return 10 * pow;
}

/** Lays out buckets as stacked bars: one slot per bucket across the width,
 * segments stacked in lifecycle order from the bottom, heights in proportion
 * to counts against a round top value. Empty states draw no segment. */
export function barGeometry(buckets: StatsBucket[], layout: Layout): Geometry {
  const { width, height } = layout;
  const gap = layout.gap ?? 0.2;
  const totals = buckets.map(bucketTotal);
  const max = totals.reduce((m, t) => (t > m ? t : m), 0n);
  const top = niceCeiling(Number(max));
  const scale = height / top;
  const slot = buckets.length > 0 ? width / buckets.length : 0;
  const barWidth = slot * (1 - gap);
  const order = (s: RunState) => {
    const i = runStates.indexOf(s);
    return i < 0 ? runStates.length : i;
  };
  const bars = buckets.map((b, i): Bar => {
    const x = i * slot + (slot - barWidth) / 2;
    const counts = b.counts.filter((c) => c.count > 0n).sort((p, q) => order(p.state) - order(q.state));
    // Each edge comes from the running sum, so segments meet without gaps
    // or overlaps whatever the rounding.
    let below = 0;
    const segments = counts.map((c): Segment => {
      const above = below + Number(c.count);
      const seg = { state: c.state, count: c.count, x, y: height - above * scale, width: barWidth, height: (above - below) * scale };
      below = above;
      return seg;
    });
    return { start: b.start, total: totals[i] ?? 0n, x, width: barWidth, segments };
  });
  const ticks = [0, top / 2, top]
    .filter((v, i, all) => Number.isInteger(v) && all.indexOf(v) === i)
    .map((value) => ({ value, y: height - value * scale }));
  return { bars, top, ticks };
}

/** Returns how many bars apart x-axis labels go so that they sit at least minSpacing pixels apart. */
export function labelStep(bars: number, width: number, minSpacing = 64): number {
  if (bars <= 0 || width <= 0) return 1;
  const slot = width / bars;
  return Math.max(1, Math.ceil(minSpacing / slot));
}

/** Returns the runs of every state over all buckets, in lifecycle order, leaving out states without runs. */
export function stateTotals(buckets: StatsBucket[]): { state: RunState; count: bigint }[] {
  const sums = new Map<RunState, bigint>();
  for (const b of buckets) {
    for (const c of b.counts) sums.set(c.state, (sums.get(c.state) ?? 0n) + c.count);
  }
  return [...sums.entries()]
    .filter(([, n]) => n > 0n)
    .map(([state, count]) => ({ state, count }))
    .sort((p, q) => {
      const a = runStates.indexOf(p.state);
      const b = runStates.indexOf(q.state);
      return (a < 0 ? runStates.length : a) - (b < 0 ? runStates.length : b);
    });
}

/** Says in one or two sentences what the chart shows, for its accessible
 * name: the total, the split by state and the busiest bucket. period names
 * the window ("the last 24 hours"), formatStart names a bucket's start. */
export function statsSummary(buckets: StatsBucket[], period: string, formatStart: (d: Date) => string): string {
  const totals = stateTotals(buckets);
  const all = totals.reduce((sum, t) => sum + t.count, 0n);
  if (all === 0n) return `No runs created in ${period}.`;
  const split = totals.map((t) => `${t.count} ${stateName(t.state).toLowerCase()}`).join(", ");
  let busiest: StatsBucket | undefined;
  let most = 0n;
  for (const b of buckets) {
    const t = bucketTotal(b);
    if (t > most) {
      most = t;
      busiest = b;
    }
  }
  const runs = (n: bigint) => (n === 1n ? "1 run" : `${n} runs`);
  const peak = busiest ? ` Busiest: ${runs(most)} from ${formatStart(busiest.start)}.` : "";
  return `${runs(all)} created in ${period}, by state now: ${split}.${peak}`;
}
