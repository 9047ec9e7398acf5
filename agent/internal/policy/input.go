package policy

import (
	"maps"
	"slices"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// Input is what the policy judges: one attempt of a run, as ordered by a
// verified work order, and the agent asked to launch it.
type Input struct {
	// RunID identifies the run.
	RunID string
	// Attempt is the attempt number, starting at 1.
	Attempt int32
	// Job is the order's job. A nil Job is denied.
	Job *ferryv1.JobSpec
	// AgentName is the agent's name within its pool.
	AgentName string
	// Pool is the name of the agent's work pool.
	Pool string
}

// document returns the input document the policy sees. It holds the names
// of the environment variables but not their values, and secret references
// but never secret values. A nil Job leaves "job" out, which the policy
// denies.
func (in Input) document() map[string]any {
	doc := map[string]any{
		"run": map[string]any{
			"id":         in.RunID,
			"attempt":    int64(in.Attempt),
			"deployment": in.Job.GetDeployment(),
			"pool_type":  in.Job.GetPoolType(),
		},
		"agent": map[string]any{
			"name": in.AgentName,
			"pool": in.Pool,
		},
	}
	if in.Job != nil {
		doc["job"] = jobDocument(in.Job)
	}
	return doc
}

func jobDocument(job *ferryv1.JobSpec) map[string]any {
	c := job.GetContainer()
	mounts := make([]any, 0, len(c.GetMounts()))
	for _, m := range c.GetMounts() {
		mounts = append(mounts, map[string]any{
			"source":    m.GetSource(),
			"target":    m.GetTarget(),
			"read_only": m.GetReadOnly(),
		})
	}
	secrets := job.GetSecrets()
	if secrets == nil {
		secrets = map[string]string{}
	}
	return map[string]any{
		"image":     job.GetImage(),
		"command":   job.GetCommand(),
		"env_names": slices.Sorted(maps.Keys(job.GetEnv())),
		"secrets":   secrets,
		"container": map[string]any{
			"privileged":   c.GetPrivileged(),
			"user":         c.GetUser(),
			"milli_cpus":   int64(c.GetMilliCpus()),
			"memory_bytes": c.GetMemoryBytes(),
			"network":      c.GetNetwork(),
			"mounts":       mounts,
		},
	}
}
