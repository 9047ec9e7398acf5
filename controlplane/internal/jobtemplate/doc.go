// Package jobtemplate merges, validates and applies job variables.
//
// A work pool may carry a base job template, JSON text of the form
//
//	{"variables": <JSON Schema of the job variables>, "defaults": {...}}
//
// A deployment gives job variables of its own, and so may a run. [Merge]
// lays them in that order, pool defaults < deployment < run, one level
// deep: a later layer's top-level key replaces an earlier one, except
// "env" and "labels", whose objects are merged key by key. [Template.Resolve]
// merges and then validates the result against the template's schema and
// the types of the known variables, so a bad value fails when a deployment
// is applied or a run is created rather than when the run is launched.
//
// [Apply] maps the known variables onto a [ferryv1.JobSpec]:
//
//   - image (string) replaces the image;
//   - command (array of strings) replaces the command;
//   - env (object of strings) is laid over the deployment's environment;
//   - cpu (number of cores, such as 0.5) sets container.milli_cpus;
//   - memory (integer number of MiB) sets container.memory_bytes;
//   - network (string) sets container.network;
//   - labels (object of strings) is laid over container.labels.
//
// On ecs pools ([PoolTypeECS]) cpu and memory size the ECS task instead (CPU
// units, 1024 to a vCPU, and MiB); they set container.milli_cpus (rounded
// up, 1024 units to 1000) and memory_bytes all the same, so admission caps
// judge them. They and the other ecs variables of
// package ecstask (cluster, launch_type, subnets, roles, tags, ...) are
// checked with ecstask's rules wherever variables are: the pool's defaults
// when it is applied, the merged variables when a deployment is applied or
// a run created. A variable left out is left to the agent's config.
//
// Other variables travel to the agent only inside JobSpec.job_variables,
// which is part of the signed work order.
package jobtemplate
