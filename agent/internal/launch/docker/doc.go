// Package docker is the [launch.Launcher] of "docker" work pools: it runs each
// job as a container on a Docker engine, through the engine's API. It never
// talks to the control plane.
//
// A start pulls the image as the job's pull policy asks (with the agent's
// registry credentials for the image's registry), creates a container whose
// labels record the attempt (run id, attempt, agent, lease token, timeout,
// stop grace), starts it, and follows its log. The job's command replaces both
// the image's ENTRYPOINT and CMD: it is the whole argument vector, as on every
// work pool. The container sees only the job's environment and the image's
// own ENV, never the agent's.
//
// Output is read back from the engine's log of the container, with the
// engine's timestamps, so every line carries the time the engine received it.
// Containers are created with the json-file log driver so that the whole log
// can be read again from the start: this is how a restarted agent adopts a
// running container ([Launcher.Adopt]) without losing or repeating a line, and
// how a broken log stream is resumed.
//
// A stop (cancel or timeout) asks the engine to stop the container: the
// image's stop signal (SIGTERM unless the image says otherwise), then SIGKILL
// when the grace has elapsed. When the run has ended and its output has been
// delivered, the container is removed unless the job asks to keep it.
//
// Known limitation: the engine counts a stop grace in whole seconds, so a
// grace is rounded up to the next second.
//
// Known limitation: container logs are not rotated, since adoption re-reads a
// log from its start; a very chatty run uses disk on the engine's host until
// its container is removed.
//
// Known limitation: a run stopped by an earlier life of the agent (cancel or
// timeout) that ended before the agent came back is reported by its exit code
// (usually Failed, "exited with code 143"), because the reason for the stop is
// not recorded on the container.
package docker
