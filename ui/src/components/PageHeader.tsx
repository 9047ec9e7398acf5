import { useEffect, type ReactNode } from "react";
import { showUntrusted } from "../lib/bidi";

/** Titles a page (and the browser tab) and holds its main actions. Titles
 * often hold a name, so bidirectional controls in them are shown as escapes.
 * The title takes focus from scripts (tabIndex -1, see pageHeading). */
export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  const shown = showUntrusted(title);
  useEffect(() => {
    document.title = `${shown} · Ferry`;
  }, [shown]);
  return (
    <header className="page-header">
      <h1 tabIndex={-1}>{shown}</h1>
      {children && <div className="page-actions">{children}</div>}
    </header>
  );
}

/** Returns the page's title, a FocusTarget of last resort for an action
 * whose button leaves the page and that has no better place for focus. */
export function pageHeading(): HTMLElement | null {
  return document.querySelector<HTMLElement>(".page-header h1");
}
