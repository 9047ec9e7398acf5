# Package ferry.agent is the agent's local policy. The agent checks every
# work order against it before launching anything, and launches a run only
# when deny is empty. Each member of deny is a message that names the rule
# refusing the run and the value it refused; a secret reference may appear
# in a message, a secret value never can, since the policy never sees one.
#
# The agent passes its own settings as data.ferry.agent.config. A setting
# left out takes its value from default_settings, which refuse whatever
# could reach the host: privileged containers, the host network, mounts
# and secret references.
package ferry.agent

# allow reports whether the work order may run.
allow := count(deny) == 0

# deny collects every reason to refuse the work order. The rules that
# check the order itself live in image.rego, container.rego and
# secrets.rego.
deny contains msg if some msg in config_errors

deny contains msg if some msg in input_errors

# default_settings are the safe defaults. An empty allowed_registries or
# allowed_networks list allows any registry or network (except the host
# network); an empty allowed_mount_sources or allowed_secret_refs list
# allows none; a cap of 0 is no cap. custom is free for extension policies.
default_settings := {
	"allowed_registries": [],
	"require_digest": false,
	"allowed_mount_sources": [],
	"max_milli_cpus": 0,
	"max_memory_bytes": 0,
	"allowed_secret_refs": [],
	"allow_privileged": false,
	"allowed_networks": [],
	"allow_host_network": false,
	"custom": {},
}

# setting_types gives the type each setting must have.
setting_types := {name: type_name(value) | some name, value in default_settings}

default supplied_settings := {}

supplied_settings := data.ferry.agent.config if is_object(data.ferry.agent.config)

# settings are the agent's settings over the defaults.
settings := object.union(default_settings, supplied_settings)

# config_errors lists what is wrong with the agent's settings. Each error
# denies every work order, so a mistyped setting never loosens the policy;
# the agent also reports them when it starts.
config_errors contains "config: the settings must be an object" if {
	not is_object(data.ferry.agent.config)
	data.ferry.agent.config != null
}

config_errors contains sprintf("config: unknown setting %q", [name]) if {
	some name, _ in supplied_settings
	not setting_types[name]
}

config_errors contains msg if {
	some name, value in supplied_settings
	want := setting_types[name]
	type_name(value) != want
	msg := sprintf("config: setting %s must be of type %s, not %s", [name, want, type_name(value)])
}

config_errors contains sprintf("config: setting %s must list only strings", [name]) if {
	some name, value in supplied_settings
	is_array(value)
	some item in value
	not is_string(item)
}

config_errors contains sprintf("config: setting %s must be a whole number of at least 0", [name]) if {
	some name, value in supplied_settings
	is_number(value)
	not whole(value)
}

whole(n) if {
	n >= 0
	round(n) == n
}

# input_types gives the type of each field of the input document, by path.
input_types := [
	[["run"], "object"],
	[["run", "id"], "string"],
	[["run", "attempt"], "number"],
	[["run", "deployment"], "string"],
	[["run", "pool_type"], "string"],
	[["job"], "object"],
	[["job", "image"], "string"],
	[["job", "command"], "array"],
	[["job", "env_names"], "array"],
	[["job", "secrets"], "object"],
	[["job", "container"], "object"],
	[["job", "container", "privileged"], "boolean"],
	[["job", "container", "user"], "string"],
	[["job", "container", "milli_cpus"], "number"],
	[["job", "container", "memory_bytes"], "number"],
	[["job", "container", "network"], "string"],
	[["job", "container", "mounts"], "array"],
	[["agent"], "object"],
	[["agent", "name"], "string"],
	[["agent", "pool"], "string"],
]

mount_types := {"source": "string", "target": "string", "read_only": "boolean"}

# input_errors lists how the input document departs from input_types. The
# rules below trust those types, so a malformed document is refused rather
# than half checked.
input_errors contains "input: the input document is missing or not an object" if not input_is_object

input_errors contains msg if {
	input_is_object
	some [path, want] in input_types
	got := type_name(object.get(input, path, null))
	got != want
	msg := sprintf("input: %s must be of type %s, not %s", [concat(".", path), want, got])
}

input_errors contains sprintf("input: job.%s[%d] must be a string", [field, i]) if {
	some field in ["command", "env_names"]
	some i, item in object.get(input, ["job", field], [])
	not is_string(item)
}

input_errors contains sprintf("input: job.secrets[%q] must be a string", [name]) if {
	some name, ref in object.get(input, ["job", "secrets"], {})
	not is_string(ref)
}

input_errors contains sprintf("input: job.container.mounts[%d] must be an object", [i]) if {
	some i, mount in object.get(input, ["job", "container", "mounts"], [])
	not is_object(mount)
}

input_errors contains msg if {
	some i, mount in object.get(input, ["job", "container", "mounts"], [])
	is_object(mount)
	some field, want in mount_types
	got := type_name(object.get(mount, field, null))
	got != want
	msg := sprintf("input: job.container.mounts[%d].%s must be of type %s, not %s", [i, field, want, got])
}

# input_is_object reports whether there is an input document and it is an
# object. A rule of its own, because a negated call on an undefined input is
# itself undefined.
input_is_object if is_object(input)

# container_pool reports whether the order runs in a container: every pool
# type but process. The image and container rules apply only there.
container_pool if input.run.pool_type != "process"

# under reports whether path is prefix or lies below it, "/" separating
# the levels.
under(path, prefix) if path == trim_right(prefix, "/")

under(path, prefix) if startswith(path, concat("", [trim_right(prefix, "/"), "/"]))

# listed formats an allow list for a message.
listed(items) := "none" if count(items) == 0

listed(items) := concat(", ", items) if count(items) > 0
