// Ids shown in tables and titles are shortened; the full id stays in the
// link's title and accessible name (see components/RunLink.tsx).

/** Returns the last 8 characters of an id, enough to tell runs apart on a
 * page. Not the first ones: run ids are time-ordered UUIDs (version 7) whose
 * leading digits are the same for runs created in the same minute. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(-8) : id;
}
