import { Link } from "react-router";
import { showUntrusted } from "../lib/bidi";
import { shortId } from "../lib/ids";

/** Links to a run by its short id (the last 8 characters); the full id is
 * the link's title and accessible name, so every run is told apart by
 * screen readers too. label, when given, comes before the id, such as the
 * run's deployment. */
export function RunLink({ id, label }: { id: string; label?: string }) {
  const name = label ? `${showUntrusted(label)} run ${id}` : `Run ${id}`;
  return (
    <Link to={`/runs/${encodeURIComponent(id)}`} title={id} aria-label={name}>
      {label && (
        <>
          <bdi>{showUntrusted(label)}</bdi>{" "}
        </>
      )}
      <span className="mono">{shortId(id)}</span>
    </Link>
  );
}
