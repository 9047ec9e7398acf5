// Package spec parses schedule specifications and computes their fire times.
//
// Three kinds of schedule are supported, each evaluated in an IANA time zone:
//
//   - cron: five fields (minute, hour, day of month, month, day of week) with
//     ranges, steps, lists and names, or one of the macros @hourly, @daily,
//     @weekly, @monthly and @yearly; see [ParseCron];
//   - interval: every fixed duration from an anchor, in elapsed time; see
//     [NewInterval];
//   - rrule: a subset of RFC 5545 recurrence rules with DTSTART and TZID given
//     separately; see [ParseRRule].
//
// # Daylight-saving rules
//
// A schedule names local wall-clock readings ("02:30 every day"). Readings are
// turned into instants by these rules, the same for cron and rrule schedules:
//
//   - A reading that does not exist because the clocks jump forward fires at
//     the first valid instant after it: 02:30 on a day that jumps from 02:00 to
//     03:00 fires at 03:00. Several missing readings that land on the same
//     instant fire once.
//   - A reading that occurs twice because the clocks fall back fires once, at
//     its first occurrence.
//   - Sub-hourly schedules (those that can fire more than once within one
//     wall-clock hour, such as "*/15 * * * *") fire by elapsed time instead: they
//     fire at every instant whose local reading matches, so a repeated hour is
//     fired in both passes and the spacing between fires is kept across the
//     transition. Missing readings still fire once at the first valid instant.
//   - Intervals and FREQ=MINUTELY rules step in elapsed time and ignore the
//     wall clock except for the rule's BYxxx filters.
//
// Known limitation: where the clocks move by 30 minutes (Australia/Lord_Howe),
// a sub-hourly cron whose step does not divide 30 minutes cannot keep its
// spacing: "*/20" fires at 01:40, 02:30 (for the missing 02:00 and 02:20) and
// 02:40 on the day the clocks jump from 02:00 to 02:30.
//
// Every fire time is a "nominal" time: the instant a run is due, before any
// [Jitter]. The package is pure computation: it never reads the wall clock,
// never touches a database and is safe for concurrent use.
package spec
