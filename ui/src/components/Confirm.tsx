import { useCallback, useId, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { showUntrusted } from "../lib/bidi";
import { useRefocusOnRemoval, type FocusTarget } from "../lib/focus";

/** The texts and action of a ConfirmButton. */
export interface ConfirmButtonProps {
  /** label is the button's text, such as "Revoke". */
  label: string;
  /** name is the button's accessible name when label alone is ambiguous,
   * such as "Pause queue default of pool e2e" for a button reading "Pause". */
  name?: string;
  /** title is the question, which names the confirmation, such as "Pause pool e2e?". */
  title: string;
  /** body says what will happen, such as "Programs using it stop working.". */
  body?: string;
  /** confirmLabel names the action on the confirming button, such as "Yes, revoke ci". */
  confirmLabel: string;
  /** cancelLabel is the text of the button that backs out; "Cancel" by default. */
  cancelLabel?: string;
  /** onConfirm runs the action, once per confirming press: pass the mutate
   * of a useSingleMutation so that a double press still makes one call. */
  onConfirm: () => void;
  /** onOpen runs when the question is shown, such as to clear the outcome of an earlier action. */
  onOpen?: () => void;
  /** busy shows the action in flight: the button takes no presses and reads busyLabel. */
  busy?: boolean;
  /** busyLabel is the button's text while busy; label followed by "…" by default. */
  busyLabel?: string;
  /** disabled turns the button off, such as while another action of the page runs. */
  disabled?: boolean;
  /** tone colours the button: "danger" for destructive actions, "primary" for the page's main one. */
  tone?: "danger" | "primary";
  /** focusAfter names where focus goes when the button leaves the page while
   * it or its question has focus, as when its action took effect and the page
   * no longer offers it: the button that replaced it, or a heading or message
   * with tabIndex -1. Without it focus falls to the page's body. Buttons that
   * stay (Pause turning into Resume) keep focus and need none. */
  focusAfter?: FocusTarget;
}

/** A button that asks before acting. Its press shows the question right
 * after it (an alertdialog, not modal) with a confirming button that names
 * the action and a cancelling one; focus moves to the confirming button.
 * Escape or the cancelling button closes the question without acting;
 * either way focus returns to the button. While busy or disabled the button
 * stays focusable (aria-disabled) so focus is never lost to the page, and
 * when the button itself goes away focus moves to focusAfter.
 * Titles, bodies and labels often hold names, so bidirectional controls in
 * them are shown as escapes. */
export function ConfirmButton({
  label,
  name,
  title,
  body,
  confirmLabel,
  cancelLabel = "Cancel",
  onConfirm,
  onOpen,
  busy = false,
  busyLabel,
  disabled = false,
  tone,
  focusAfter,
}: ConfirmButtonProps) {
  const [open, setOpen] = useState(false);
  const triggerRef = useRef<HTMLButtonElement | null>(null);
  const refocus = useRefocusOnRemoval(focusAfter);
  const trigger = useCallback(
    (el: HTMLButtonElement | null) => {
      triggerRef.current = el;
      const undo = refocus(el);
      return () => {
        triggerRef.current = null;
        undo?.();
      };
    },
    [refocus],
  );
  const confirmRef = useRef<HTMLButtonElement>(null);
  const wasOpen = useRef(false);
  const id = useId();
  // A layout effect: focus is back on the button before the question's
  // removal could be taken for the button's own (see focusAfter).
  useLayoutEffect(() => {
    if (open) confirmRef.current?.focus();
    else if (wasOpen.current) triggerRef.current?.focus();
    wasOpen.current = open;
  }, [open]);

  const off = busy || disabled;
  const close = () => setOpen(false);
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== "Escape" || !open) return;
    e.preventDefault();
    e.stopPropagation();
    close();
  };
  return (
    <>
      <button
        type="button"
        ref={trigger}
        className={tone}
        aria-label={name === undefined ? undefined : showUntrusted(name)}
        aria-disabled={off || undefined}
        aria-expanded={open}
        aria-controls={open ? `${id}-q` : undefined}
        onKeyDown={onKeyDown}
        onClick={() => {
          if (off) return;
          if (open) {
            confirmRef.current?.focus();
            return;
          }
          onOpen?.();
          setOpen(true);
        }}
      >
        {showUntrusted(busy ? (busyLabel ?? `${label}…`) : label)}
      </button>
      {open && (
        <div
          id={`${id}-q`}
          ref={refocus}
          className="confirm"
          role="alertdialog"
          aria-modal="false"
          aria-labelledby={`${id}-t`}
          aria-describedby={body ? `${id}-b` : undefined}
          onKeyDown={onKeyDown}
        >
          <strong id={`${id}-t`}>{showUntrusted(title)}</strong>
          {body && <p id={`${id}-b`}>{showUntrusted(body)}</p>}
          <div className="page-actions">
            <button
              type="button"
              ref={confirmRef}
              className={tone === "danger" ? "danger" : "primary"}
              onClick={() => {
                close();
                onConfirm();
              }}
            >
              {showUntrusted(confirmLabel)}
            </button>
            <button type="button" onClick={close}>
              {cancelLabel}
            </button>
          </div>
        </div>
      )}
    </>
  );
}
