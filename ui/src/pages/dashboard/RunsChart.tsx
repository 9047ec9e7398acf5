import { useLayoutEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { runStates, stateName } from "../../components/runState";
import { formatFilters, noFilters } from "../runs/filters";
import { barGeometry, bucketTotal, labelStep, statsSummary, type StatsBucket } from "./chart";

// Room around the plot for the axis labels, in pixels.
const margin = { top: 10, right: 8, bottom: 26, left: 44 };
const plotHeight = 180;
// Below this width the labels would crowd; the chart scrolls inside its box instead.
const minWidth = 300;

/** Tracks an element's content width, starting from a guess until it is measured. */
function useWidth(initial: number) {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(initial);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el === null) return;
    setWidth(el.clientWidth || initial);
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver((entries) => {
      const w = entries[0]?.contentRect.width;
      if (w) setWidth(w);
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [initial]);
  return [ref, width] as const;
}

/** Draws runs per bucket, stacked by state, as an SVG bar chart, with a
 * legend and the numbers in a table for those who cannot see it. period
 * names the window ("the last 24 hours"); bucketMs is one bar's width. */
export function RunsChart({
  buckets,
  period,
  bucketMs,
  formatStart,
}: {
  buckets: StatsBucket[];
  period: string;
  bucketMs: number;
  formatStart: (d: Date) => string;
}) {
  const [boxRef, boxWidth] = useWidth(720);
  const width = Math.max(minWidth, Math.floor(boxWidth));
  const plotWidth = width - margin.left - margin.right;
  const g = barGeometry(buckets, { width: plotWidth, height: plotHeight });
  const step = labelStep(g.bars.length, plotWidth);
  const summary = statsSummary(buckets, period, formatStart);
  const shown = runStates.filter((s) => buckets.some((b) => b.counts.some((c) => c.state === s && c.count > 0n)));
  const rows = buckets.filter((b) => bucketTotal(b) > 0n);

  return (
    <div className="chart">
      <div className="chart-box" ref={boxRef}>
        <svg
          role="img"
          aria-label={summary}
          width={width}
          height={plotHeight + margin.top + margin.bottom}
          viewBox={`0 0 ${width} ${plotHeight + margin.top + margin.bottom}`}
        >
          <g transform={`translate(${margin.left},${margin.top})`}>
            {g.ticks.map((t) => (
              <g key={t.value}>
                <line className="chart-grid" x1={0} x2={plotWidth} y1={t.y} y2={t.y} />
                <text className="chart-label" x={-6} y={t.y} textAnchor="end" dominantBaseline="middle">
                  {t.value}
                </text>
              </g>
            ))}
            {g.bars.map((bar, i) => (
              <g key={bar.start.getTime()}>
                {bar.segments.map((s) => (
                  <rect
                    key={s.state}
                    className={`chart-seg fill-${stateName(s.state).toLowerCase()}`}
                    x={s.x}
                    y={s.y}
                    width={s.width}
                    height={s.height}
                  >
                    <title>{`${formatStart(bar.start)}: ${s.count} ${stateName(s.state).toLowerCase()}`}</title>
                  </rect>
                ))}
                {i % step === 0 && (
                  <text className="chart-label" x={bar.x + bar.width / 2} y={plotHeight + 17} textAnchor="middle">
                    {formatStart(bar.start)}
                  </text>
                )}
              </g>
            ))}
          </g>
        </svg>
      </div>
      {shown.length > 0 && (
        <ul className="chart-legend" aria-label="Legend">
          {shown.map((s) => (
            <li key={s}>
              <svg width="12" height="12" aria-hidden="true">
                <rect className={`fill-${stateName(s).toLowerCase()}`} width="12" height="12" rx="2" />
              </svg>
              {stateName(s)}
            </li>
          ))}
        </ul>
      )}
      <details>
        <summary>Numbers behind the chart</summary>
        {rows.length === 0 ? (
          <p className="hint">No runs in any bar.</p>
        ) : (
          <div className="table-wrap">
            <table>
              <caption className="hint">Runs created per bar, by the state they are in now; bars without runs are left out.</caption>
              <thead>
                <tr>
                  <th scope="col">From</th>
                  {shown.map((s) => (
                    <th scope="col" className="num" key={s}>
                      {stateName(s)}
                    </th>
                  ))}
                  <th scope="col" className="num">
                    Total
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((b) => (
                  <tr key={b.start.getTime()}>
                    <th scope="row">
                      <Link
                        to={`/runs?${formatFilters({
                          ...noFilters,
                          createdAfter: b.start,
                          createdBefore: new Date(b.start.getTime() + bucketMs),
                        })}`}
                      >
                        {formatStart(b.start)}
                      </Link>
                    </th>
                    {shown.map((s) => (
                      <td className="num" key={s}>
                        {String(b.counts.find((c) => c.state === s)?.count ?? 0n)}
                      </td>
                    ))}
                    <td className="num">{String(bucketTotal(b))}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </details>
    </div>
  );
}
