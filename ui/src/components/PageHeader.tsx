import { useEffect, type ReactNode } from "react";
import { showUntrusted } from "../lib/bidi";

/** Titles a page (and the browser tab) and holds its main actions. Titles
 * often hold a name, so bidirectional controls in them are shown as escapes. */
export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  const shown = showUntrusted(title);
  useEffect(() => {
    document.title = `${shown} · Ferry`;
  }, [shown]);
  return (
    <header className="page-header">
      <h1>{shown}</h1>
      {children && <div className="page-actions">{children}</div>}
    </header>
  );
}
