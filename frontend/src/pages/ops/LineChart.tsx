import { memo } from "react";

import { axisMax, linePath, points, ticks, xAt, type Plot } from "./chartScale";

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** A CSS class that sets the stroke colour. */
  className: string;
}

const PLOT: Plot = { width: 560, height: 160 };
const MARGIN = { left: 56, right: 12, top: 10, bottom: 24 };

/** A small line chart in plain SVG: buckets along x, a nice value axis, gaps left open. */
export const LineChart = memo(function LineChart({
  title,
  series,
  labels,
  format,
  floor = 0,
  testId,
}: {
  title: string;
  series: ChartSeries[];
  /** One label per bucket (shown for the first, middle and last). */
  labels: string[];
  format: (value: number) => string;
  floor?: number;
  testId?: string;
}) {
  const max = axisMax(
    series.map((item) => item.values),
    floor,
  );
  const axis = ticks(max);
  const count = labels.length;
  const shown = new Set([0, Math.floor((count - 1) / 2), count - 1]);
  return (
    <figure className="ops-chart" data-testid={testId}>
      <figcaption>
        <span className="ops-chart__title">{title}</span>
        <span className="ops-chart__legend">
          {series.map((item) => (
            <span key={item.label} className={`ops-chart__key ${item.className}`}>
              {item.label}
            </span>
          ))}
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${PLOT.width + MARGIN.left + MARGIN.right} ${PLOT.height + MARGIN.top + MARGIN.bottom}`}
        role="img"
        aria-label={title}
      >
        <g transform={`translate(${MARGIN.left},${MARGIN.top})`}>
          {axis.map((tick) => {
            const y = PLOT.height - (tick / max) * PLOT.height;
            return (
              <g key={tick} className="ops-chart__grid">
                <line x1={0} x2={PLOT.width} y1={y} y2={y} />
                <text x={-6} y={y} dy="0.32em" textAnchor="end">
                  {format(tick)}
                </text>
              </g>
            );
          })}
          {labels.map((label, index) =>
            shown.has(index) ? (
              <text
                key={index}
                className="ops-chart__label"
                x={xAt(index, count, PLOT)}
                y={PLOT.height + 16}
                textAnchor={index === 0 && count > 1 ? "start" : index === count - 1 && count > 1 ? "end" : "middle"}
              >
                {label}
              </text>
            ) : null,
          )}
          {series.map((item) => (
            <g key={item.label} className={item.className}>
              <path className="ops-chart__line" d={linePath(item.values, max, PLOT)} />
              {points(item.values, max, PLOT).map((point) => (
                <circle key={point.index} className="ops-chart__point" cx={point.x} cy={point.y} r={3}>
                  <title>{`${labels[point.index] ?? ""}: ${format(item.values[point.index] ?? 0)}`}</title>
                </circle>
              ))}
            </g>
          ))}
        </g>
      </svg>
    </figure>
  );
});
