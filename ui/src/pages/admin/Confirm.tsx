import { useEffect, useRef, useState } from "react";

/** A button that asks before acting: the first press shows the question with
 * a confirm and a cancel button in its place; only the confirm acts. */
export function ConfirmButton({
  label,
  question,
  confirmLabel,
  onConfirm,
  busy = false,
  disabled = false,
  danger = false,
}: {
  /** label is the first button's text, such as "Revoke". */
  label: string;
  /** question says what will happen, such as "Revoke key ci? Programs using it stop working.". */
  question: string;
  /** confirmLabel is the confirming button's text, such as "Yes, revoke". */
  confirmLabel: string;
  onConfirm: () => void;
  /** busy shows the action in flight: the button is disabled and its label ends with "…". */
  busy?: boolean;
  /** disabled turns the button off, such as while another action of the page runs. */
  disabled?: boolean;
  danger?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  // From the confirming click until busy turns true (the mutation's state
  // reaches React a moment later), the first button ignores clicks, so the
  // second click of a double click cannot ask again. It stays focusable
  // (aria-disabled), as focus returns to it.
  const [sent, setSent] = useState(false);
  useEffect(() => {
    if (!sent) return;
    if (busy) {
      setSent(false);
      return;
    }
    const t = setTimeout(() => setSent(false), 1_000);
    return () => clearTimeout(t);
  }, [sent, busy]);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const askRef = useRef<HTMLButtonElement>(null);
  const wasAsking = useRef(false);
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
    else if (wasAsking.current) askRef.current?.focus();
    wasAsking.current = asking;
  }, [asking]);

  if (!asking) {
    return (
      <button
        type="button"
        ref={askRef}
        className={danger ? "danger" : undefined}
        disabled={busy || disabled}
        aria-disabled={sent || undefined}
        onClick={() => {
          if (!sent) setAsking(true);
        }}
      >
        {busy ? `${label}…` : label}
      </button>
    );
  }
  return (
    <span className="confirm-inline" role="group" aria-label={question}>
      <span>{question}</span>
      <button
        type="button"
        ref={confirmRef}
        className={danger ? "danger" : "primary"}
        onClick={() => {
          setAsking(false);
          setSent(true);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
