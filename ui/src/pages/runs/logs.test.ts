import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { LogLineSchema, LogStream } from "../../gen/ferry/v1/run_pb";
import { appendLines, earlierRoom, emptyLog, filterLines, highlight, lineKey, matches, prependLines } from "./logs";

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

const seqs = (lines: readonly { seq: bigint }[]) => lines.map((l) => Number(l.seq));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => line(from + i));

describe("the tail and earlier pages", () => {
  it("keeps the earlier token of a follow's first message only", () => {
    const b = appendLines(emptyLog, range(8, 10), 10, "before-8");
    expect(b.earlier).toBe("before-8");
    expect(appendLines(b, [line(11)], 10, "ignored").earlier).toBe("before-8");
    expect(appendLines(emptyLog, range(1, 3), 10, "").earlier).toBe("");
  });

  it("joins backward pages to the tail without gaps or repeats", () => {
    let b = appendLines(emptyLog, range(8, 10), 10, "before-8");
    b = prependLines(b, range(5, 7), "before-5", 10);
    expect(seqs(b.lines)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(b.earlier).toBe("before-5");
    // A page overlapping what is held adds only the lines before it.
    b = prependLines(b, range(3, 6), "", 10);
    expect(seqs(b.lines)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(b.earlier).toBe("");
    expect(b.dropped).toBe(0);
    expect(earlierRoom(b, 10)).toBe(0);
  });

  it("orders earlier attempts before later ones", () => {
    const second = create(LogLineSchema, { attempt: 2, seq: 1n, text: "retry" });
    let b = appendLines(emptyLog, [second], 10, "t");
    b = prependLines(b, [line(4), line(5)], "", 10);
    expect(b.lines.map(lineKey)).toEqual(["1:4", "1:5", "2:1"]);
  });

  it("fills only the room below the bound and never drops the newest lines", () => {
    let b = appendLines(emptyLog, range(11, 18), 10, "before-11");
    expect(earlierRoom(b, 10)).toBe(2);
    b = prependLines(b, range(9, 10), "before-9", 10);
    expect(seqs(b.lines)).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    expect(b.earlier).toBe("before-9");
    expect(earlierRoom(b, 10)).toBe(0);
    // A page larger than the room keeps its newest lines and gives up the token.
    const c = prependLines(appendLines(emptyLog, range(11, 18), 10, "t"), range(6, 10), "before-6", 10);
    expect(seqs(c.lines)).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    expect(c.dropped).toBe(3);
    expect(c.earlier).toBe("");
  });

  it("gives up the earlier token once live lines let the oldest go", () => {
    let b = appendLines(emptyLog, range(5, 8), 5, "before-5");
    b = appendLines(b, [line(9)], 5);
    expect(b.earlier).toBe("before-5");
    b = appendLines(b, [line(10)], 5);
    expect(seqs(b.lines)).toEqual([6, 7, 8, 9, 10]);
    expect(b.dropped).toBe(1);
    expect(b.earlier).toBe("");
    expect(earlierRoom(b, 5)).toBe(0);
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
