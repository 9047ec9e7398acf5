//go:build race

package e2e

// raceEnabled reports whether the tests were built with the race detector;
// the binaries under test are then built with it too.
const raceEnabled = true
