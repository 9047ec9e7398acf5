// A line diff by longest common subsequence, for comparing two versions
// of a deployment's pretty-printed spec. Specs are small (hundreds of
// lines), so the quadratic table is fine; the common head and tail are cut
// off first so that an edit in a long spec costs little.

/** One line of a diff: kept (" "), removed from a ("-") or added in b ("+"). */
export interface DiffLine {
  op: " " | "-" | "+";
  text: string;
  /** a is the 1-based line number in a, for kept and removed lines. */
  a?: number;
  /** b is the 1-based line number in b, for kept and added lines. */
  b?: number;
}

/** The most cells the LCS table may have; beyond it the middle of the two
 * texts is shown as removed then added, which is still a correct diff. */
export const maxCells = 4_000_000;

/** Splits text into lines; "" has none, and a final newline adds none. */
export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Returns the lines of a and b in order, each marked kept, removed or
 * added, with as many lines kept as possible. Removals come before the
 * additions that replace them. */
export function diffLines(a: string, b: string): DiffLine[] {
  const x = splitLines(a);
  const y = splitLines(b);
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;

  const out: DiffLine[] = [];
  for (let i = 0; i < head; i++) out.push({ op: " ", text: x[i]!, a: i + 1, b: i + 1 });

  const xs = x.slice(head, x.length - tail);
  const ys = y.slice(head, y.length - tail);
  const n = xs.length;
  const m = ys.length;
  if (n * m > maxCells) {
    xs.forEach((t, i) => out.push({ op: "-", text: t, a: head + i + 1 }));
    ys.forEach((t, j) => out.push({ op: "+", text: t, b: head + j + 1 }));
  } else {
    // lcs[i][j] is the LCS length of xs[i:] and ys[j:], in one flat array.
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = xs[i] === ys[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && xs[i] === ys[j]) {
        out.push({ op: " ", text: xs[i]!, a: head + i + 1, b: head + j + 1 });
        i++;
        j++;
      } else if (i < n && (j >= m || lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!)) {
        out.push({ op: "-", text: xs[i]!, a: head + i + 1 });
        i++;
      } else {
        out.push({ op: "+", text: ys[j]!, b: head + j + 1 });
        j++;
      }
    }
  }

  for (let k = tail; k > 0; k--) {
    out.push({ op: " ", text: x[x.length - k]!, a: x.length - k + 1, b: y.length - k + 1 });
  }
  return out;
}

/** Reports whether a diff holds any change. */
export function hasChanges(d: DiffLine[]): boolean {
  return d.some((l) => l.op !== " ");
}
