import { describe, expect, it } from "vitest";
import { formatDuration, formatRelative } from "./time";

describe("formatDuration", () => {
  it.each([
    [0, "0 ms"],
    [850, "850 ms"],
    [1234, "1.2 s"],
    [42_000, "42 s"],
    [245_000, "4 min 5 s"],
    [7_380_000, "2 h 3 min"],
    [273_600_000, "3 d 4 h"],
    [-1, "—"],
    [Number.NaN, "—"],
  ])("%d ms → %s", (ms, want) => {
    expect(formatDuration(ms)).toBe(want);
  });
});

describe("formatRelative", () => {
  const now = new Date("2026-12-04T12:00:00Z");
  it("past and future", () => {
    expect(formatRelative(new Date("2026-12-04T11:59:48Z"), now)).toBe("12 s ago");
    expect(formatRelative(new Date("2026-12-04T12:03:00Z"), now)).toBe("in 3 min 0 s");
    expect(formatRelative(undefined, now)).toBe("—");
  });
});
