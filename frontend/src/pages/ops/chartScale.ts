/**
 * Scaling for the operations console's SVG charts: a "nice" upper bound and ticks for the value
 * axis, and the mapping of a series with gaps (null: no data in that bucket) onto a plot area.
 */

export interface Plot {
  width: number;
  height: number;
}

/** The smallest of 1, 2, 2.5, 5 × 10^k that is at least `value` (and 1 for zero or less). */
export function niceCeiling(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    const candidate = step * magnitude;
    if (candidate >= value * (1 - 1e-12)) return Number(candidate.toPrecision(12));
  }
  return 10 * magnitude;
}

/** How many steps split a nice maximum into round ticks: 2 → 0.5 steps, 1/2.5/5 → fifths. */
export function tickCount(max: number): number {
  if (!Number.isFinite(max) || max <= 0) return 4;
  const mantissa = Number((max / 10 ** Math.floor(Math.log10(max))).toPrecision(6));
  return mantissa === 2 ? 4 : 5;
}

/** `count + 1` evenly spaced ticks from 0 to `max` inclusive. */
export function ticks(max: number, count = tickCount(max)): number[] {
  return Array.from({ length: count + 1 }, (_, index) => Number(((max * index) / count).toPrecision(12)));
}

/** The upper bound of the value axis for several series (ignoring gaps); at least `floor`. */
export function axisMax(series: (number | null)[][], floor = 0): number {
  let largest = floor;
  for (const values of series) for (const value of values) if (value !== null && value > largest) largest = value;
  return niceCeiling(largest);
}

/** x of bucket `index` of `count`: buckets are evenly spread, the first at 0, the last at width. */
export function xAt(index: number, count: number, plot: Plot): number {
  return count <= 1 ? plot.width / 2 : (index * plot.width) / (count - 1);
}

/** y of `value` on an axis from 0 (bottom) to `max` (top); values are clamped to the plot. */
export function yAt(value: number, max: number, plot: Plot): number {
  const ratio = max > 0 ? Math.min(Math.max(value / max, 0), 1) : 0;
  return plot.height - ratio * plot.height;
}

/**
 * SVG path data for a series: a gap (null) breaks the line, so a missing bucket is never drawn as
 * a zero. A point between two gaps gets a zero-length segment (drawn with a round cap).
 */
export function linePath(values: (number | null)[], max: number, plot: Plot): string {
  const parts: string[] = [];
  let drawing = false;
  values.forEach((value, index) => {
    if (value === null) {
      drawing = false;
      return;
    }
    const x = round(xAt(index, values.length, plot));
    const y = round(yAt(value, max, plot));
    if (!drawing) {
      parts.push(`M${x},${y}`);
      const next = values[index + 1];
      if (next === null || next === undefined) parts.push(`L${x},${y}`);
    } else {
      parts.push(`L${x},${y}`);
    }
    drawing = true;
  });
  return parts.join(" ");
}

/** The points of a series that have a value, placed on the plot (drawn as markers). */
export function points(values: (number | null)[], max: number, plot: Plot): { index: number; x: number; y: number }[] {
  const placed: { index: number; x: number; y: number }[] = [];
  values.forEach((value, index) => {
    if (value !== null) placed.push({ index, x: round(xAt(index, values.length, plot)), y: round(yAt(value, max, plot)) });
  });
  return placed;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** "1.2 s", "850 ms", "—" for no value. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return "—";
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s`;
  return `${Math.round(ms)} ms`;
}

/** "12.5 %", "—" for no value. */
export function formatRate(rate: number | null): string {
  if (rate === null) return "—";
  return `${(rate * 100).toFixed(1).replace(/\.0$/, "")} %`;
}
