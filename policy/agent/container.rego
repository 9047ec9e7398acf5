package ferry.agent

# The container rules apply to container pools (see container_pool).

# privileged: a privileged container is refused unless allow_privileged.
deny contains msg if {
	container_pool
	input.job.container.privileged
	not settings.allow_privileged
	msg := sprintf(
		"privileged: deployment %s asks for a privileged container, which this agent does not allow",
		[input.run.deployment],
	)
}

# network: the host network shares the host's network namespace, so it is
# refused unless allow_host_network.
deny contains "network: the host network is not allowed (allow_host_network is off)" if {
	container_pool
	host_network
	not settings.allow_host_network
}

# network: with allowed_networks set, the network must be one of them. The
# engine's default network, chosen by an empty network, is listed as "default".
deny contains msg if {
	container_pool
	count(settings.allowed_networks) > 0
	not network_name in settings.allowed_networks
	msg := sprintf(
		"network: network %s is not an allowed network (allowed: %s)",
		[network_name, listed(settings.allowed_networks)],
	)
}

host_network if lower(trim_space(input.job.container.network)) == "host"

network_name := "default" if input.job.container.network == ""

network_name := input.job.container.network if input.job.container.network != ""

# mount: a mount source must be a clean absolute path, so that no ".." can
# climb out of an allowed prefix.
deny contains sprintf("mount: source %s is not a clean absolute path", [mount.source]) if {
	container_pool
	some mount in input.job.container.mounts
	not clean_absolute(mount.source)
}

# mount: a mount source must lie under one of allowed_mount_sources; none
# are allowed by default.
deny contains msg if {
	container_pool
	some mount in input.job.container.mounts
	clean_absolute(mount.source)
	not mount_source_allowed(mount.source)
	msg := sprintf(
		"mount: source %s is outside the allowed mount sources (allowed: %s)",
		[mount.source, listed(settings.allowed_mount_sources)],
	)
}

clean_absolute("/")

clean_absolute(path) if {
	regex.match(`^(/[^/]+)+$`, path)
	not dot_segment(path)
}

dot_segment(path) if {
	some segment in split(path, "/")
	segment in {".", ".."}
}

mount_source_allowed(source) if {
	some prefix in settings.allowed_mount_sources
	under(source, prefix)
}

# resource_limits pairs each container limit with the setting that caps it.
resource_limits := [
	{"name": "cpu", "field": "milli_cpus", "cap": "max_milli_cpus", "unit": "millicpus"},
	{"name": "memory", "field": "memory_bytes", "cap": "max_memory_bytes", "unit": "bytes"},
]

# resources: with a cap set, the container must ask for a limit within it.
# A limit of 0 means none, which would let the run exceed the cap.
deny contains msg if {
	container_pool
	some limit in resource_limits
	cap := settings[limit.cap]
	cap > 0
	asked := input.job.container[limit.field]
	asked > cap
	msg := sprintf(
		"resources: %s limit of %d %s is above this agent's cap of %d %s",
		[limit.name, asked, limit.unit, cap, limit.unit],
	)
}

deny contains msg if {
	container_pool
	some limit in resource_limits
	cap := settings[limit.cap]
	cap > 0
	input.job.container[limit.field] == 0
	msg := sprintf(
		"resources: the work order sets no %s limit, but this agent caps %s at %d %s",
		[limit.name, limit.name, cap, limit.unit],
	)
}
