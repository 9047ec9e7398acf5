import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { LogLineSchema, LogStream } from "../../gen/ferry/v1/run_pb";
import { appendLines, emptyLog, filterLines, highlight, lineKey, matches } from "./logs";

const line = (seq: number, text = `line ${seq}`) => create(LogLineSchema, { attempt: 1, seq: BigInt(seq), stream: LogStream.STDOUT, text });

describe("appendLines", () => {
  it("keeps the last lines within the bound and counts the dropped ones", () => {
    let b = appendLines(emptyLog, [line(1), line(2), line(3)], 4);
    expect(b.lines.map((l) => Number(l.seq))).toEqual([1, 2, 3]);
    expect(b.dropped).toBe(0);
    b = appendLines(b, [line(4), line(5), line(6)], 4);
    expect(b.lines.map((l) => Number(l.seq))).toEqual([3, 4, 5, 6]);
    expect(b.dropped).toBe(2);
    b = appendLines(b, [line(7)], 4);
    expect(b.lines.map((l) => Number(l.seq))).toEqual([4, 5, 6, 7]);
    expect(b.dropped).toBe(3);
  });

  it("returns the same buffer for nothing new", () => {
    const b = appendLines(emptyLog, [line(1)]);
    expect(appendLines(b, [])).toBe(b);
    expect(emptyLog.lines).toEqual([]);
  });

  it("skips lines it already holds when a stream resumes", () => {
    const b = appendLines(emptyLog, [line(1), line(2)]);
    const again = appendLines(b, [line(2), line(3)]);
    expect(again.lines.map((l) => Number(l.seq))).toEqual([1, 2, 3]);
    expect(appendLines(b, [line(1)])).toBe(b);
    const next = create(LogLineSchema, { attempt: 2, seq: 1n, text: "second attempt" });
    expect(appendLines(again, [next]).lines.map(lineKey)).toEqual(["1:1", "1:2", "1:3", "2:1"]);
  });

  it("keys lines by attempt and a sequence beyond 2^53", () => {
    const l = create(LogLineSchema, { attempt: 2, seq: 9007199254740993n });
    expect(lineKey(l)).toBe("2:9007199254740993");
  });
});

describe("highlight", () => {
  it.each([
    ["Error: disk full", "", [["Error: disk full", false]]],
    ["Error: disk full", "error", [["Error", true], [": disk full", false]]],
    ["abcABCabc", "ABC", [["abc", true], ["ABC", true], ["abc", true]]],
    ["x-ab-y-ab", "ab", [["x-", false], ["ab", true], ["-y-", false], ["ab", true]]],
    ["nothing here", "zzz", [["nothing here", false]]],
    ["aaa", "aa", [["aa", true], ["a", false]]],
  ])("%s / %s", (text, q, want) => {
    expect(highlight(text, q).map((s) => [s.text, s.match])).toEqual(want);
  });

  it("never loses text whose case folding changes its length", () => {
    const segs = highlight("İstanbul", "stan");
    expect(segs.map((s) => s.text).join("")).toBe("İstanbul");
  });
});

describe("filterLines", () => {
  it("keeps the lines containing the search, ignoring case", () => {
    const lines = [line(1, "Starting"), line(2, "WARN low disk"), line(3, "warn again"), line(4, "done")];
    expect(filterLines(lines, "warn").map((l) => l.text)).toEqual(["WARN low disk", "warn again"]);
    expect(filterLines(lines, "")).toBe(lines);
    expect(matches("Done", "DON")).toBe(true);
    expect(matches("Done", "x")).toBe(false);
  });
});
