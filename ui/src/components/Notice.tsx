import type { ReactNode } from "react";
import { describeError } from "../api/errors";

/** Shows a failed call in words, with what to do, and an optional retry. */
export function ErrorNotice({ error, onRetry, what }: { error: unknown; onRetry?: () => void; what?: string }) {
  const p = describeError(error);
  return (
    <div className="notice notice-error" role="alert" data-code={p.code}>
      <strong>{what ? `${what}: ${p.title}` : p.title}</strong>
      {p.detail && <p className="notice-detail">{p.detail}</p>}
      <p>{p.action}</p>
      {onRetry && (
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
      <strong>{title}</strong>
      {children && <div>{children}</div>}
    </div>
  );
}

/** Marks content that is loading, for screen readers too. */
export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

/** Shows a success or information message that screen readers announce. */
export function InfoNotice({ children }: { children: ReactNode }) {
  return (
    <div className="notice notice-info" role="status" aria-live="polite">
      {children}
    </div>
  );
}
