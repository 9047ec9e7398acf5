import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { RunSchema, RunState } from "../../gen/ferry/v1/run_pb";
import { isUuid, runDurationMs, shortId } from "./format";

describe("isUuid", () => {
  it.each([
    ["0b7e5a2c-1f4d-4c1e-9a57-3e2f1d0c9b8a", true],
    ["0B7E5A2C-1F4D-4C1E-9A57-3E2F1D0C9B8A", true],
    ["not-a-run", false],
    ["0b7e5a2c1f4d4c1e9a573e2f1d0c9b8a", false],
    ["0b7e5a2c-1f4d-4c1e-9a57-3e2f1d0c9b8a/x", false],
    ["", false],
  ])("%s → %s", (id, want) => {
    expect(isUuid(id)).toBe(want);
  });

  it("shortens ids", () => {
    expect(shortId("0b7e5a2c-1f4d-4c1e-9a57-3e2f1d0c9b8a")).toBe("1d0c9b8a");
    // Two version-7 ids of the same millisecond differ at the end only.
    expect(shortId("019ae9f1-7c00-7a11-8f3e-5d2c41b7e901")).not.toBe(shortId("019ae9f1-7c00-7b52-9c07-a81e33f0d4c6"));
    expect(shortId("abc")).toBe("abc");
  });
});

describe("runDurationMs", () => {
  const t = (s: number) => timestampFromDate(new Date(Date.UTC(2026, 11, 4, 12, 0, s)));
  const now = new Date(Date.UTC(2026, 11, 4, 12, 1, 0));
  it.each([
    ["not started", { state: RunState.PENDING }, undefined],
    ["running", { state: RunState.RUNNING, startTime: t(30) }, 30_000],
    ["ended", { state: RunState.COMPLETED, startTime: t(10), endTime: t(25) }, 15_000],
    ["final without an end", { state: RunState.CRASHED, startTime: t(10) }, undefined],
  ])("%s", (_, init, want) => {
    expect(runDurationMs(create(RunSchema, init), now)).toBe(want);
  });
});
