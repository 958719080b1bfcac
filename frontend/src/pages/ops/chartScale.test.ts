import { describe, expect, it } from "vitest";

import { axisMax, formatDuration, formatRate, linePath, niceCeiling, points, tickCount, ticks, xAt, yAt } from "./chartScale";

const plot = { width: 100, height: 50 };

describe("niceCeiling", () => {
  it("rounds up to 1, 2, 2.5 or 5 times a power of ten", () => {
    expect(niceCeiling(0.7)).toBe(1);
    expect(niceCeiling(1)).toBe(1);
    expect(niceCeiling(1.1)).toBe(2);
    expect(niceCeiling(2.2)).toBe(2.5);
    expect(niceCeiling(3)).toBe(5);
    expect(niceCeiling(7)).toBe(10);
    expect(niceCeiling(836)).toBe(1000);
    expect(niceCeiling(0.013)).toBe(0.02);
  });
  it("gives 1 for zero, negatives and non-numbers", () => {
    expect(niceCeiling(0)).toBe(1);
    expect(niceCeiling(-5)).toBe(1);
    expect(niceCeiling(Number.NaN)).toBe(1);
  });
});

describe("axes", () => {
  it("spreads ticks from zero to the maximum in round steps", () => {
    expect(ticks(1000)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(ticks(50)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(ticks(2.5)).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    expect(ticks(0.2)).toEqual([0, 0.05, 0.1, 0.15, 0.2]);
    expect(ticks(0.2, 2)).toEqual([0, 0.1, 0.2]);
    expect(tickCount(0)).toBe(4);
  });
  it("takes the largest value of every series, ignoring gaps, with a floor", () => {
    expect(axisMax([[1, null, 40], [null, 120]])).toBe(200);
    expect(axisMax([[null, null]], 0.01)).toBe(0.01);
    expect(axisMax([[0, 0]])).toBe(1);
  });
  it("maps values bottom-up and clamps them to the plot", () => {
    expect(yAt(0, 10, plot)).toBe(50);
    expect(yAt(10, 10, plot)).toBe(0);
    expect(yAt(5, 10, plot)).toBe(25);
    expect(yAt(20, 10, plot)).toBe(0);
    expect(yAt(-1, 10, plot)).toBe(50);
  });
  it("spreads buckets over the width, a single one in the middle", () => {
    expect(xAt(0, 5, plot)).toBe(0);
    expect(xAt(4, 5, plot)).toBe(100);
    expect(xAt(0, 1, plot)).toBe(50);
  });
});

describe("linePath", () => {
  it("draws a continuous line through every value", () => {
    expect(linePath([0, 5, 10], 10, plot)).toBe("M0,50 L50,25 L100,0");
  });
  it("breaks the line at a gap instead of drawing a zero", () => {
    expect(linePath([10, null, 0, 10, null], 10, plot)).toBe("M0,0 L0,0 M50,50 L75,0");
  });
  it("places a marker on every value, none on gaps", () => {
    expect(points([null, 5, null, 10], 10, plot)).toEqual([
      { index: 1, x: 33.33, y: 25 },
      { index: 3, x: 100, y: 0 },
    ]);
  });
  it("draws nothing for a series of gaps", () => {
    expect(linePath([null, null], 10, plot)).toBe("");
  });
});

describe("formatting", () => {
  it("shows durations in ms below a second and in seconds above", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(836)).toBe("836 ms");
    expect(formatDuration(1500)).toBe("1.5 s");
    expect(formatDuration(12_345)).toBe("12 s");
  });
  it("shows rates as percentages", () => {
    expect(formatRate(null)).toBe("—");
    expect(formatRate(0)).toBe("0 %");
    expect(formatRate(1)).toBe("100 %");
    expect(formatRate(0.125)).toBe("12.5 %");
    expect(formatRate(0.1)).toBe("10 %");
  });
});
