import type { ReactNode } from "react";
import { describeError, isRetryable } from "../api/errors";
import { showUntrusted } from "../lib/bidi";
import { untrustedChildren } from "./Untrusted";

/** Shows a failed call in words, with what to do, and a retry button when
 * retrying can help (the server was unreachable, slow or failed; not when it
 * refused the request). what and the server's message often echo names and
 * input, so bidirectional controls in them are shown as escapes and the
 * message is isolated from the UI's own words. */
export function ErrorNotice({ error, onRetry, what }: { error: unknown; onRetry?: () => void; what?: string }) {
  const p = describeError(error);
  return (
    <div className="notice notice-error" role="alert" data-code={p.code}>
      <strong>{what ? `${showUntrusted(what)}: ${p.title}` : p.title}</strong>
      {p.detail && (
        <p className="notice-detail">
          <bdi>{showUntrusted(p.detail)}</bdi>
        </p>
      )}
      <p>{p.action}</p>
      {onRetry && isRetryable(p.code) && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Says that a list is empty and what to do next. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty" role="status">
      <strong>{showUntrusted(title)}</strong>
      {children && <div>{untrustedChildren(children)}</div>}
    </div>
  );
}

/** Marks content that is loading, for screen readers too. */
export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      {showUntrusted(what)}…
    </p>
  );
}

/** Shows a success or information message that screen readers announce. */
export function InfoNotice({ children }: { children: ReactNode }) {
  return (
    <div className="notice notice-info" role="status" aria-live="polite">
      {untrustedChildren(children)}
    </div>
  );
}
