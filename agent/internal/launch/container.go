package launch

import "fmt"

// PullPolicy says when a container launcher pulls a job's image. The zero
// value is [PullIfNotPresent].
type PullPolicy int

// The pull policies.
const (
	// PullIfNotPresent pulls the image only when the engine does not have it.
	PullIfNotPresent PullPolicy = iota
	// PullAlways pulls the image before every start, so that a moving tag such
	// as "latest" is followed.
	PullAlways
	// PullNever uses only an image the engine already has; a missing image
	// makes the run fail.
	PullNever
)

// String returns the policy's name, such as "IfNotPresent".
func (p PullPolicy) String() string {
	switch p {
	case PullIfNotPresent:
		return "IfNotPresent"
	case PullAlways:
		return "Always"
	case PullNever:
		return "Never"
	}
	return fmt.Sprintf("PullPolicy(%d)", int(p))
}

// Mount binds a path of the agent's host into a run's container.
type Mount struct {
	// Source is the absolute path on the host.
	Source string
	// Target is the absolute path inside the container.
	Target string
	// ReadOnly mounts the path read-only.
	ReadOnly bool
}

// Container holds the settings of a run's container on docker and ecs work
// pools. The zero value asks for the infrastructure's defaults: no resource
// caps, the default network, no mounts, an unprivileged container that is
// removed once the run has ended.
type Container struct {
	// PullPolicy says when the image is pulled.
	PullPolicy PullPolicy
	// User runs the command as this user (a name or uid[:gid]); empty means
	// the image's user.
	User string
	// MilliCPUs caps CPU in thousandths of a core; zero means no cap.
	MilliCPUs int32
	// MemoryBytes caps memory, in bytes, with no swap on top; zero means no
	// cap.
	MemoryBytes int64
	// Network names the network the container joins; empty means the
	// launcher's default.
	Network string
	// Mounts are bind mounts of host paths.
	Mounts []Mount
	// Privileged asks for a privileged container.
	Privileged bool
	// Labels are added to the container. Names starting with "ferry." are
	// reserved for the launcher.
	Labels map[string]string
	// KeepContainer leaves the container in place after the run has ended,
	// for debugging, instead of removing it.
	KeepContainer bool
}
