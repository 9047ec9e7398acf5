import { describe, expect, it } from "vitest";
import { diffLines, hasChanges, maxCells, splitLines, type DiffLine } from "./diff";

// render writes a diff as one string per line: op, then text.
const render = (d: DiffLine[]) => d.map((l) => l.op + l.text);

describe("splitLines", () => {
  it.each([
    ["", []],
    ["a", ["a"]],
    ["a\n", ["a"]],
    ["a\nb", ["a", "b"]],
    ["a\n\nb\n", ["a", "", "b"]],
  ])("splits %j", (text, want) => {
    expect(splitLines(text)).toEqual(want);
  });
});

describe("diffLines", () => {
  const cases: { name: string; a: string; b: string; want: string[] }[] = [
    { name: "both empty", a: "", b: "", want: [] },
    { name: "equal", a: "x\ny", b: "x\ny", want: [" x", " y"] },
    { name: "all added", a: "", b: "x\ny", want: ["+x", "+y"] },
    { name: "all removed", a: "x\ny", b: "", want: ["-x", "-y"] },
    { name: "one changed in the middle", a: "a\nb\nc", b: "a\nB\nc", want: [" a", "-b", "+B", " c"] },
    { name: "insert at start", a: "b\nc", b: "a\nb\nc", want: ["+a", " b", " c"] },
    { name: "delete at end", a: "a\nb\nc", b: "a\nb", want: [" a", " b", "-c"] },
    {
      name: "keeps the longest common subsequence",
      a: "a\nb\nc\nd\ne\nf",
      b: "a\nx\nc\nd\ny\nf",
      want: [" a", "-b", "+x", " c", " d", "-e", "+y", " f"],
    },
    { name: "moved line", a: "a\nb\nc", b: "b\nc\na", want: ["-a", " b", " c", "+a"] },
    { name: "repeated lines", a: "x\nx\nx", b: "x\nx", want: [" x", " x", "-x"] },
    { name: "whitespace matters", a: "  a", b: "a", want: ["-  a", "+a"] },
  ];
  it.each(cases)("$name", ({ a, b, want }) => {
    expect(render(diffLines(a, b))).toEqual(want);
  });

  it("numbers the lines of both sides", () => {
    expect(diffLines("a\nb\nc", "a\nB\nc\nd")).toEqual([
      { op: " ", text: "a", a: 1, b: 1 },
      { op: "-", text: "b", a: 2 },
      { op: "+", text: "B", b: 2 },
      { op: " ", text: "c", a: 3, b: 3 },
      { op: "+", text: "d", b: 4 },
    ]);
  });

  it("keeps every line of both sides exactly once", () => {
    const a = Array.from({ length: 60 }, (_, i) => `l${(i * 7) % 13}`).join("\n");
    const b = Array.from({ length: 50 }, (_, i) => `l${(i * 5) % 11}`).join("\n");
    const d = diffLines(a, b);
    expect(d.filter((l) => l.op !== "+").map((l) => l.text)).toEqual(splitLines(a));
    expect(d.filter((l) => l.op !== "-").map((l) => l.text)).toEqual(splitLines(b));
  });

  it("falls back to remove-then-add past the table limit, still correct", () => {
    const side = Math.ceil(Math.sqrt(maxCells)) + 1;
    const a = ["head", ...Array.from({ length: side }, (_, i) => `a${i}`), "tail"].join("\n");
    const b = ["head", ...Array.from({ length: side }, (_, i) => `b${i}`), "tail"].join("\n");
    const d = diffLines(a, b);
    expect(d[0]).toEqual({ op: " ", text: "head", a: 1, b: 1 });
    expect(d[1]).toEqual({ op: "-", text: "a0", a: 2 });
    expect(d[side + 1]).toEqual({ op: "+", text: "b0", b: 2 });
    expect(d[d.length - 1]).toEqual({ op: " ", text: "tail", a: side + 2, b: side + 2 });
  });
});

describe("hasChanges", () => {
  it.each([
    ["a", "a", false],
    ["a", "b", true],
    ["", "", false],
  ])("%j vs %j", (a, b, want) => {
    expect(hasChanges(diffLines(a, b))).toBe(want);
  });
});
