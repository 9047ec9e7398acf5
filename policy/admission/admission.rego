# Package ferry.admission decides what a deployment may contain. The control
# plane evaluates deny when a deployment is applied and again when each run
# is dispatched, with this input:
#
#   {
#     "workspace": "<uuid>",
#     "deployment": "etl",
#     "pool_type": "docker",
#     "spec": {
#       "image": "registry.local:5000/team/etl@sha256:...",
#       "tags": ["team=data"],
#       "secrets": {"DB_PASSWORD": "aws-sm://prod/db#password"},
#       "container": {"privileged": false, "milli_cpus": 500,
#                     "memory_bytes": 268435456, "network": "",
#                     "mounts": [{"source": "/data", "target": "/in", "read_only": true}]}
#     }
#   }
#
# The deployment is admitted when deny is empty. Each member of deny names
# the rule that refused: "rule: text". Secret references appear in
# messages; secret values never reach the policy.
#
# The settings are data.ferry.admission.config over default_settings. The
# defaults admit what is common and refuse what is obviously dangerous:
# privileged containers, the host network and mounts of the host's system
# paths. A workspace adds denials with modules of package
# ferry.admission.workspace, whose deny messages join this deny set
# prefixed "workspace: ".
package ferry.admission

# allow reports whether the deployment is admitted.
allow := count(deny) == 0

# default_settings are the safe defaults. An empty allowed_registries or
# allowed_secret_refs list allows any; a cap of 0 is no cap; every pattern
# of required_tags must match one of the deployment's tags.
default_settings := {
	"allowed_registries": [],
	"require_digest": false,
	"max_milli_cpus": 0,
	"max_memory_bytes": 0,
	"required_tags": [],
	"allowed_secret_refs": [],
	"allow_privileged": false,
	"allow_host_network": false,
	"denied_mount_sources": [
		"/", "/boot", "/dev", "/etc", "/proc", "/root", "/run/docker.sock",
		"/sys", "/var/run/docker.sock",
	],
}

default supplied_settings := {}

supplied_settings := data.ferry.admission.config if is_object(data.ferry.admission.config)

# settings are the installation's settings over the defaults.
settings := object.union(default_settings, supplied_settings)

# config: a mistyped or unknown setting denies every deployment, so a typo
# never loosens the policy.
deny contains sprintf("config: unknown setting %q", [name]) if {
	some name, _ in supplied_settings
	not name in object.keys(default_settings)
}

deny contains msg if {
	some name, value in supplied_settings
	name in object.keys(default_settings)
	want := type_name(default_settings[name])
	type_name(value) != want
	msg := sprintf("config: setting %s must be of type %s, not %s", [name, want, type_name(value)])
}

deny contains "config: the settings must be an object" if {
	not is_object(data.ferry.admission.config)
	data.ferry.admission.config != null
}

deny contains "input: the input document has no spec object" if not spec_is_object

# workspace: the workspace's own admission policy adds denials.
deny contains sprintf("workspace: %s", [msg]) if {
	some msg in data.ferry.admission.workspace.deny
}

spec_is_object if is_object(input.spec)

# spec is the deployment's spec with every field the rules read present.
spec := object.union(
	{"image": "", "tags": [], "secrets": {}},
	object.get(input, "spec", {}),
)

# container is the spec's container settings with every field present.
container := object.union(
	{"privileged": false, "milli_cpus": 0, "memory_bytes": 0, "network": "", "mounts": []},
	object.get(spec, "container", {}),
)

# container_pool reports whether runs start containers: every pool type
# but process. The image and container rules apply only there.
container_pool if input.pool_type != "process"

# listed formats a list for a message.
listed(items) := "none" if count(items) == 0

listed(items) := concat(", ", items) if count(items) > 0
