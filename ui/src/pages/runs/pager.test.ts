import { describe, expect, it } from "vitest";
import { currentToken, firstPage, hasNewer, newer, older, pageNumber } from "./pager";

describe("pager", () => {
  it("walks older and back newer through the tokens it kept", () => {
    let p = firstPage;
    expect(currentToken(p)).toBe("");
    expect(hasNewer(p)).toBe(false);
    p = older(p, "t2");
    p = older(p, "t3");
    expect([currentToken(p), pageNumber(p), hasNewer(p)]).toEqual(["t3", 3, true]);
    p = newer(p);
    expect([currentToken(p), pageNumber(p)]).toEqual(["t2", 2]);
    p = newer(p);
    expect([currentToken(p), pageNumber(p), hasNewer(p)]).toEqual(["", 1, false]);
  });

  it("stays put at either end", () => {
    expect(newer(firstPage)).toBe(firstPage);
    const p = older(firstPage, "t2");
    expect(older(p, "")).toBe(p);
  });

  it("never changes the pager it was given", () => {
    const p = older(firstPage, "t2");
    older(p, "t3");
    newer(p);
    expect(p.tokens).toEqual(["", "t2"]);
    expect(firstPage.tokens).toEqual([""]);
  });
});
