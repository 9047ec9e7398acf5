// Package process is the [launch.Launcher] of "process" work pools: it runs
// each job as a child process of the agent, for development, tests and the
// built-in demo. It never talks to the control plane.
//
// Each run gets its own session and process group, so that stopping it reaches
// every process it started: a stop sends SIGTERM to the group, then SIGKILL
// once the job's stop grace has elapsed. When the main process ends, for any
// reason, whatever is left of its group is killed and reaped before
// [launch.Handle.Wait] returns, and both output pipes have been read to the
// end, so no line is lost. The agent becomes a child subreaper (see [New]) so
// that the processes a run orphans come back to it to be reaped.
//
// The launcher does not isolate runs: they share the agent's user, file
// system and network, and get no resource limits.
//
// Runs cannot be re-adopted after an agent restart, and [Launcher] does not
// implement [launch.Adopter]: the main process of every run is started with
// Pdeathsig set to SIGKILL, so it dies with the agent, and the control plane
// marks the run CRASHED when its lease expires.
//
// Known limitation: Pdeathsig reaches only the main process. If the agent is
// killed, processes the run started in the background survive it.
//
// Known limitation: a process that leaves the run's process group (setsid, a
// daemon that double-forks into a new session) is not stopped, and its output
// is read for at most a few seconds after the main process ends. Confining a
// run would take a cgroup per run, which needs privileges the agent does not
// ask for.
package process
