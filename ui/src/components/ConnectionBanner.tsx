import { useEffect, useSyncExternalStore } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useClient } from "../api/clients";
import { callMonitor, type CallMonitor } from "../api/monitor";
import { AuthService } from "../gen/ferry/v1/identity_pb";

/** How often the banner asks the control plane whether it answers again. */
const probeEveryMs = 10_000;

/** Says, politely, when the control plane is not answering (a call pending
 * for long, or calls getting no reply), and clears once a call succeeds.
 * Meanwhile it asks WhoAmI every few seconds; once the control plane
 * answers, the queries that failed meanwhile are fetched again. */
export function ConnectionBanner({ monitor = callMonitor }: { monitor?: CallMonitor }) {
  const state = useSyncExternalStore(monitor.subscribe, () => monitor.current());
  const auth = useClient(AuthService);
  const qc = useQueryClient();
  const down = state === "not-answering";

  useEffect(() => {
    if (!down) return;
    let inFlight = false;
    const probe = async () => {
      if (inFlight) return;
      inFlight = true;
      try {
        await auth.whoAmI({});
      } catch {
        // Any answer, even a refusal, clears the banner through the monitor.
      } finally {
        inFlight = false;
      }
    };
    const t = setInterval(() => void probe(), probeEveryMs);
    return () => {
      clearInterval(t);
      // Back again: fetch what failed while the control plane was away.
      void qc.refetchQueries({ type: "active", predicate: (q) => q.state.status === "error" });
    };
  }, [down, auth, qc]);

  return (
    <div className="connection-banner-region" role="status" aria-live="polite">
      {down && (
        <div className="connection-banner">
          <strong>The control plane is not answering; retrying…</strong> What you see may be out of date. Check that{" "}
          <code>ferry server</code> is running and your network is up.
        </div>
      )}
    </div>
  );
}
