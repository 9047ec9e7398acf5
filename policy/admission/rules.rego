package ferry.admission

# privileged: a privileged container owns its host; refused unless
# allow_privileged.
deny contains msg if {
	container_pool
	container.privileged
	not settings.allow_privileged
	msg := sprintf("privileged: deployment %s asks for a privileged container, which is not allowed (allow_privileged is off)", [input.deployment])
}

# network: the host network shares the host's network namespace; refused
# unless allow_host_network.
deny contains msg if {
	container_pool
	lower(trim_space(container.network)) == "host"
	not settings.allow_host_network
	msg := sprintf("network: deployment %s asks for the host network, which is not allowed (allow_host_network is off)", [input.deployment])
}

# mount: a mount of one of denied_mount_sources, or of a path below one
# ("/" only by itself), is refused; so is a source that is not a clean
# absolute path, since ".." could climb out of any check.
deny contains sprintf("mount: source %s is not a clean absolute path", [mount.source]) if {
	container_pool
	some mount in container.mounts
	not clean_absolute(mount.source)
}

deny contains sprintf("mount: source %s is a host system path, which may not be mounted", [mount.source]) if {
	container_pool
	some mount in container.mounts
	clean_absolute(mount.source)
	some denied in settings.denied_mount_sources
	denied_mount(mount.source, denied)
}

denied_mount(source, "/") if source == "/"

denied_mount(source, denied) if {
	denied != "/"
	under(source, denied)
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

# under reports whether path is prefix or lies below it.
under(path, prefix) if path == trim_right(prefix, "/")

under(path, prefix) if startswith(path, concat("", [trim_right(prefix, "/"), "/"]))

# registry: with allowed_registries set, the image must come from one of
# them: a registry host ("registry.local:5000") or a host and path prefix
# ("ghcr.io/ferryhq"), matched by whole path levels. An image without a
# registry host comes from docker.io ("etl" is docker.io/library/etl).
deny contains msg if {
	container_pool
	spec.image != ""
	count(settings.allowed_registries) > 0
	not registry_allowed(image_repository(spec.image))
	msg := sprintf("registry: image %s is not from an allowed registry (allowed: %s)", [spec.image, listed(settings.allowed_registries)])
}

registry_allowed(repository) if {
	some prefix in settings.allowed_registries
	under(repository, lower(prefix))
}

# image_repository returns an image reference's repository, fully
# qualified and lower case, without tag or digest.
image_repository(ref) := repository if {
	name := split(ref, "@")[0]
	parts := split(name, "/")
	last := count(parts) - 1
	path := array.concat(array.slice(parts, 0, last), [split(parts[last], ":")[0]])
	repository := lower(concat("/", with_registry(path)))
}

with_registry(path) := path if {
	count(path) > 1
	registry_host(path[0])
}

with_registry(path) := array.concat(["docker.io"], path) if {
	count(path) > 1
	not registry_host(path[0])
}

with_registry(path) := ["docker.io", "library", path[0]] if count(path) == 1

# registry_host reports whether the first part of a reference names a
# registry rather than a Docker Hub namespace.
registry_host(part) if contains(part, ".")

registry_host(part) if contains(part, ":")

registry_host("localhost")

# digest: with require_digest set, the image must be pinned by a sha256
# digest, so that what runs is what was admitted.
deny contains sprintf("digest: image %s is not pinned by a sha256 digest (require_digest is on)", [spec.image]) if {
	container_pool
	settings.require_digest
	not regex.match(`@sha256:[a-f0-9]{64}$`, spec.image)
}

# resources pairs each container limit with the setting that caps it.
resources := [
	{"name": "cpu", "field": "milli_cpus", "cap": "max_milli_cpus", "unit": "millicpus"},
	{"name": "memory", "field": "memory_bytes", "cap": "max_memory_bytes", "unit": "bytes"},
]

# resources: with a cap set, the container must set a limit within it; a
# limit of 0 means none, which would exceed any cap.
deny contains msg if {
	container_pool
	some r in resources
	cap := settings[r.cap]
	cap > 0
	asked := container[r.field]
	asked > cap
	msg := sprintf("resources: %s limit of %d %s is above the cap of %d %s (%s)", [r.name, asked, r.unit, cap, r.unit, r.cap])
}

deny contains msg if {
	container_pool
	some r in resources
	cap := settings[r.cap]
	cap > 0
	container[r.field] == 0
	msg := sprintf("resources: container.%s is not set, but %s caps it at %d %s", [r.field, r.cap, cap, r.unit])
}

# tags: every pattern of required_tags must match one of the deployment's
# tags ("team=*" asks for a team tag).
deny contains msg if {
	some pattern in settings.required_tags
	not tag_present(pattern)
	msg := sprintf("tags: deployment %s has no tag matching %s (required_tags)", [input.deployment, pattern])
}

tag_present(pattern) if {
	some tag in spec.tags
	glob.match(pattern, [], tag)
}

# secret: with allowed_secret_refs set, every secret reference must match
# one of its patterns, in which "*" stays within one "/"-separated level
# and "**" spans levels ("aws-sm://prod/*"). It applies to every pool type.
deny contains msg if {
	count(settings.allowed_secret_refs) > 0
	some name, ref in spec.secrets
	not secret_ref_allowed(ref)
	msg := sprintf("secret: %s refers to %s, which is not an allowed secret reference (allowed: %s)", [name, ref, listed(settings.allowed_secret_refs)])
}

secret_ref_allowed(ref) if {
	some pattern in settings.allowed_secret_refs
	glob.match(pattern, ["/"], ref)
}
