// Package supervisor owns the agent's runs: it claims the work orders the
// control plane offers, launches each claimed run, reports what happens to
// it, ships its logs, and stops it when asked or when its lease is gone.
//
// The life of one run attempt:
//
//  1. A WorkOrder arrives on the stream. Orders beyond the agent's free
//     capacity, and every order while draining, are ignored: the offer
//     expires on its own and the control plane offers the run elsewhere.
//  2. ClaimRuns claims the accepted orders, batched when they arrive together.
//  3. The launcher starts the job; STARTED is reported with the
//     infrastructure id. A start error is reported as FAILED when the job
//     itself is at fault, CRASHED otherwise.
//  4. When the run ends and all its log lines are acknowledged, the outcome
//     is reported (COMPLETED, FAILED, TIMED_OUT, CANCELLED or CRASHED). So a
//     finished run implies its logs are stored.
//
// Each report of a run is retried until the control plane acknowledges it,
// and reports of one run are sent in order.
//
// Leases and self-fencing: the agent heartbeats every heartbeat interval,
// listing the runs it holds. Each successful heartbeat renews their local
// lease deadline to the time the heartbeat was sent plus the lease duration,
// measured on the agent's monotonic clock. A run whose deadline passes
// without renewal, or that the control plane lists as lost, or whose report
// is answered with stop and not accepted, is stopped and forgotten: the
// control plane may already have given it to another agent, and a run must
// never execute twice at once. A claimed run whose lease has expired
// locally is never launched.
//
// On shutdown the supervisor drains: it takes no new orders, waits up to the
// shutdown grace for its runs to end, then stops the rest and reports them
// CRASHED ("agent shut down"), so that a retry policy can run them again.
//
// The supervisor never talks to the infrastructure directly: it goes through
// a [launch.Launcher].
package supervisor
