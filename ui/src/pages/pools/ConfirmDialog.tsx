import { useEffect, useId, useRef } from "react";

/** Confirmation is a question put to the person before an action. */
export interface Confirmation {
  /** title is the question, such as "Pause pool e2e?". */
  title: string;
  /** body says what will happen. */
  body: string;
  /** confirm labels the button that goes ahead, such as "Pause pool". */
  confirm: string;
  /** onConfirm runs the action. */
  onConfirm: () => void;
}

/** Asks ask in a modal dialog; Escape or Cancel closes it without acting.
 * The browser keeps focus inside while it is open and returns it after. */
export function ConfirmDialog({ ask, onClose }: { ask: Confirmation | null; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (d === null) return;
    if (ask !== null && !d.open) d.showModal();
    if (ask === null && d.open) d.close();
  }, [ask]);
  return (
    <dialog ref={ref} className="confirm-dialog" aria-labelledby={titleId} onClose={onClose}>
      {ask !== null && (
        <>
          <h2 id={titleId}>{ask.title}</h2>
          <p>{ask.body}</p>
          <div className="page-actions">
            <button
              type="button"
              className="primary"
              autoFocus
              onClick={() => {
                ask.onConfirm();
                onClose();
              }}
            >
              {ask.confirm}
            </button>
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          </div>
        </>
      )}
    </dialog>
  );
}
