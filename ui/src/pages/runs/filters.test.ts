import { describe, expect, it } from "vitest";
import { RunState } from "../../gen/ferry/v1/run_pb";
import { formatFilters, fromLocalInput, hasFilters, ignoredFilters, listRequest, noFilters, parseFilters, parseTagList, toLocalInput } from "./filters";

const parse = (q: string) => parseFilters(new URLSearchParams(q));

describe("parseFilters", () => {
  it.each([
    ["", noFilters],
    ["state=failed", { ...noFilters, states: [RunState.FAILED] }],
    ["state=Failed&state=running", { ...noFilters, states: [RunState.RUNNING, RunState.FAILED] }],
    ["state=cancelled,scheduled,bogus", { ...noFilters, states: [RunState.SCHEDULED, RunState.CANCELLED] }],
    ["deployment=%20counter%20", { ...noFilters, deployment: "counter" }],
    ["tag=e2e&tag=nightly,e2e", { ...noFilters, tags: ["e2e", "nightly"] }],
    ["late=1", { ...noFilters, late: true }],
    ["late=0", noFilters],
    ["after=not-a-time&before=", noFilters],
    [
      "after=2026-12-04T10:00:00.000Z&before=2026-12-05T10:00:00.000Z",
      { ...noFilters, createdAfter: new Date("2026-12-04T10:00:00Z"), createdBefore: new Date("2026-12-05T10:00:00Z") },
    ],
  ])("%s", (q, want) => {
    expect(parse(q)).toEqual(want);
  });
});

describe("ignoredFilters", () => {
  it.each([
    ["", []],
    ["state=failed,running&after=2026-12-04T10:00:00.000Z&late=1", []],
    ["state=bogus&after=notadate", ["state “bogus” (not a run state)", "after “notadate” (not a time)"]],
    ["state=failed,Nope&before=yesterday&late=maybe", ["state “Nope” (not a run state)", "before “yesterday” (not a time)", "late “maybe” (use 1 or 0)"]],
    ["after=&before=%20", []],
  ])("%s", (q, want) => {
    expect(ignoredFilters(new URLSearchParams(q))).toEqual(want);
  });
});

describe("formatFilters", () => {
  it("gives an empty query string without filters", () => {
    expect(formatFilters(noFilters)).toBe("");
    expect(hasFilters(noFilters)).toBe(false);
  });

  it("keeps ?state=failed as people type it", () => {
    expect(formatFilters(parse("state=failed"))).toBe("state=failed");
  });

  it("round-trips every filter", () => {
    const f = {
      states: [RunState.PENDING, RunState.CRASHED],
      deployment: "etl-nightly",
      tags: ["a", "b"],
      createdAfter: new Date("2026-01-02T03:04:05Z"),
      createdBefore: new Date("2026-02-02T03:04:05Z"),
      late: true,
    };
    const q = formatFilters(f);
    expect(q).toBe(
      "state=pending%2Ccrashed&deployment=etl-nightly&tag=a&tag=b&after=2026-01-02T03%3A04%3A05.000Z&before=2026-02-02T03%3A04%3A05.000Z&late=1",
    );
    expect(parse(q)).toEqual(f);
    expect(hasFilters(f)).toBe(true);
  });
});

describe("listRequest", () => {
  it("sends the filters, the token and times as timestamps", () => {
    const req = listRequest(parse("state=running&deployment=counter&tag=x&after=2026-12-04T10:00:00Z"), "tok", 50);
    expect(req.states).toEqual([RunState.RUNNING]);
    expect(req.deployment).toBe("counter");
    expect(req.tags).toEqual(["x"]);
    expect(req.pageToken).toBe("tok");
    expect(req.pageSize).toBe(50);
    expect(req.createdAfter?.seconds).toBe(BigInt(Date.parse("2026-12-04T10:00:00Z") / 1000));
    expect(req.createdBefore).toBeUndefined();
    expect(req.late).toBe(false);
  });
});

describe("tags and local times", () => {
  it("splits tags on commas and spaces, once each", () => {
    expect(parseTagList(" a, b  c,a ,")).toEqual(["a", "b", "c"]);
    expect(parseTagList("")).toEqual([]);
  });

  it("round-trips a local time through the datetime-local format", () => {
    const d = new Date(2026, 11, 4, 9, 5);
    expect(toLocalInput(d)).toBe("2026-12-04T09:05");
    expect(fromLocalInput("2026-12-04T09:05")).toEqual(d);
    expect(fromLocalInput("2026-12-04T09:05:07")).toEqual(new Date(2026, 11, 4, 9, 5, 7));
    expect(toLocalInput(undefined)).toBe("");
    expect(fromLocalInput("")).toBeUndefined();
    expect(fromLocalInput("yesterday")).toBeUndefined();
  });
});
