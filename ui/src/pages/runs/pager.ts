// Cursor pagination keeps the tokens of the pages walked through, so
// "Newer" can go back: ListRuns tokens only lead to older runs.

/** Where the person is in a cursor-paged list. */
export interface Pager {
  /** tokens[i] is the page token of page i; tokens[0] is "" (the newest runs). */
  tokens: string[];
}

/** The pager at the first page. */
export const firstPage: Pager = { tokens: [""] };

/** Returns the token of the page shown. */
export function currentToken(p: Pager): string {
  return p.tokens[p.tokens.length - 1] ?? "";
}

/** Returns the 1-based number of the page shown. */
export function pageNumber(p: Pager): number {
  return p.tokens.length;
}

/** Reports whether a newer page exists. */
export function hasNewer(p: Pager): boolean {
  return p.tokens.length > 1;
}

/** Moves to the older page that next (the shown page's next_page_token) leads to; "" means there is none. */
export function older(p: Pager, next: string): Pager {
  if (next === "") return p;
  return { tokens: [...p.tokens, next] };
}

/** Moves back to the newer page. */
export function newer(p: Pager): Pager {
  if (!hasNewer(p)) return p;
  return { tokens: p.tokens.slice(0, -1) };
}
