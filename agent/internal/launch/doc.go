// Package launch defines how the agent starts a run on some infrastructure and
// what it gets back: the [Launcher] and [Handle] interfaces, the [Job] a
// launcher is given, the [LogLine]s it delivers to a [LogSink], and the
// [Outcome] it reports when the run ends.
//
// It also holds the helpers every launcher shares: [RenderArgs] fills
// {{ .name }} placeholders in a command from the run's parameters, and
// [LineWriter] cuts a byte stream into bounded, valid UTF-8 log lines.
//
// Implementations live in sub-packages, one per kind of work pool
// (launch/process, and later launch/docker and launch/ecs). This package and
// its implementations never talk to the control plane: they start, watch and
// stop runs, and the agent reports what they observe.
package launch
