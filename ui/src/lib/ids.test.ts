import { describe, expect, it } from "vitest";
import { shortId } from "./ids";

describe("shortId", () => {
  it.each([
    ["a version-4 id", "0b7e5a2c-1f4d-4c1e-9a57-3e2f1d0c9b8a", "1d0c9b8a"],
    ["a short text", "abc", "abc"],
    ["exactly 8", "12345678", "12345678"],
    ["empty", "", ""],
  ])("%s", (_, id, want) => {
    expect(shortId(id)).toBe(want);
  });

  it("tells apart runs created in the same millisecond", () => {
    // Two version-7 ids of one millisecond share their first 13 characters.
    const a = "019ae9f1-7c00-7a11-8f3e-5d2c41b7e901";
    const b = "019ae9f1-7c00-7b52-9c07-a81e33f0d4c6";
    expect(a.slice(0, 8)).toBe(b.slice(0, 8));
    expect(shortId(a)).not.toBe(shortId(b));
  });
});
