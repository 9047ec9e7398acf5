import { useRef } from "react";
import { useClient } from "../../api/clients";
import { RunService, RunState, type Run } from "../../gen/ferry/v1/run_pb";
import { ConfirmButton } from "../../components/Confirm";
import { ErrorNotice, InfoNotice } from "../../components/Notice";
import { isFinal, stateName } from "../../components/runState";
import { pageHeading } from "../../components/PageHeader";
import { useSingleMutation } from "../../lib/action";
import { firstPresent, useRefocusOnRemoval } from "../../lib/focus";

/** Reports whether a run may be retried by hand: it ended other than completed. */
export function canRetry(s: RunState): boolean {
  return s === RunState.FAILED || s === RunState.CRASHED || s === RunState.CANCELLED;
}

/** Reports whether a run may be cancelled: it has not ended and is not already being cancelled. */
export function canCancel(s: RunState): boolean {
  return !isFinal(s) && s !== RunState.CANCELLING;
}

/** Cancel (after a confirmation) and Retry, with their outcome in words.
 * onChanged receives the run as the server answered. Each button leaves once
 * its action took effect (or the run changed by itself); focus then moves to
 * the other one when the run offers it, or else to the page's title. */
export function RunActions({ run, onChanged }: { run: Run; onChanged: (r: Run) => void }) {
  const client = useClient(RunService);
  const actionsRef = useRef<HTMLDivElement>(null);
  const focusAfter = () => firstPresent(actionsRef.current?.querySelector<HTMLElement>(":scope > button"), pageHeading());
  const retryRef = useRefocusOnRemoval<HTMLButtonElement>(focusAfter);

  const cancel = useSingleMutation({
    mutationFn: () => client.cancelRun({ id: run.id, reason: "cancelled from the web UI" }),
    onSuccess: (r) => {
      if (r.run) onChanged(r.run);
    },
  });
  const retry = useSingleMutation({
    mutationFn: () => client.retryRun({ id: run.id }),
    onSuccess: (r) => {
      if (r.run) onChanged(r.run);
    },
  });

  return (
    <div className="run-actions">
      <div className="page-actions" ref={actionsRef}>
        {canCancel(run.state) && (
          <ConfirmButton
            label="Cancel run"
            title="Cancel this run?"
            body={
              (run.state === RunState.RUNNING
                ? "Its agent is asked to stop the process; the run ends as Cancelled."
                : "It has not started and will not start.") + " You can retry it afterwards."
            }
            confirmLabel="Yes, cancel the run"
            cancelLabel="Keep it"
            tone="danger"
            busy={cancel.isPending}
            busyLabel="Cancelling…"
            focusAfter={focusAfter}
            onOpen={() => {
              retry.reset();
              cancel.reset();
            }}
            onConfirm={() => cancel.mutate()}
          />
        )}
        {canRetry(run.state) && (
          <button
            type="button"
            ref={retryRef}
            className="primary"
            // aria-disabled, not disabled: a disabled button drops focus to the page.
            aria-disabled={retry.isPending || undefined}
            onClick={() => {
              if (retry.isPending) return;
              cancel.reset();
              retry.mutate();
            }}
          >
            {retry.isPending ? "Retrying…" : "Retry"}
          </button>
        )}
      </div>
      {cancel.isError && <ErrorNotice error={cancel.error} what="Cannot cancel the run" />}
      {retry.isError && <ErrorNotice error={retry.error} what="Cannot retry the run" />}
      {cancel.isSuccess && cancel.data.run && (
        <InfoNotice>Cancel requested: the run is {stateName(cancel.data.run.state)}.</InfoNotice>
      )}
      {retry.isSuccess && retry.data.run && (
        <InfoNotice>
          Retry scheduled: attempt {retry.data.run.attempt} of {retry.data.run.maxAttempts} is {stateName(retry.data.run.state)}.
        </InfoNotice>
      )}
    </div>
  );
}
