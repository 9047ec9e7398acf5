// Package zic reads the input language of the tz database's zone compiler, zic(8),
// in particular the compact form Debian installs as tzdata.zi, and evaluates the
// rules it describes: which UTC offset, daylight-saving flag and abbreviation are in
// effect at a given instant.
//
// The package never reads the system's compiled zone files and never calls
// time.LoadLocation; every answer comes from the text it was given. It uses the
// time package only for calendar arithmetic in UTC.
//
// Supported input: Rule, Zone (with continuation lines) and Link lines with every
// abbreviation zic accepts (unique case-insensitive prefixes of keywords, month and
// weekday names, "lastSun", "Sun>=8", "Sun<=25", plain day numbers, times with the
// suffixes w, s, u, g and z, SAVE with the suffixes s and d, negative SAVE, the
// FORMAT forms "%s", "%z" and "A/B", and double-quoted fields). Leap and Expires
// lines belong to the separate leap-second file and are reported as malformed.
//
// Known limitation: rule transitions before the year 1800 are not evaluated. No rule
// in the tz database starts before 1900, so this only matters for made-up input.
package zic
