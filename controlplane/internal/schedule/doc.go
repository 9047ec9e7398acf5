// Package schedule keeps the schedules of deployments and creates their
// runs.
//
// A [Service] applies, lists, pauses, resumes, deletes, previews and
// backfills schedules for the API. A [Scheduler] is the background loop
// that creates each active schedule's runs ahead of their fire times, up to
// a horizon and a count; replicas elect one leader through a PostgreSQL
// advisory lock. Fire times come from package spec, which owns the cron,
// interval and RRULE rules and their daylight-saving behaviour.
//
// Every run a schedule creates records the schedule and its nominal fire
// time, and a unique index on the two makes creation idempotent: two
// schedulers at once, a scheduler restarted halfway through a step, or a
// backfill over times that already have runs never make a second run for a
// fire time. A schedule's cursor (the newest fire time it has handled) moves
// in the same transaction as the runs it covers.
//
// Fire times missed while the scheduler was down or the schedule paused
// follow the schedule's catch-up policy: skip them, create the latest one,
// or create the most recent few up to a cap; a drop_if_later_than threshold
// drops missed times older than it whatever the policy.
//
// Known limitation: runs created ahead record the deployment version
// current when they were created, so a deployment change reaches scheduled
// runs only after those already created (at most MaxAhead per schedule,
// within the horizon) have run.
//
// The package never talks to agents; the dispatcher picks the runs up from
// the database.
package schedule
