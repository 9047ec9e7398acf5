package ferry.agent

# The image rules apply to container pools (see container_pool).

deny contains "image: the work order names no image" if {
	container_pool
	input.job.image == ""
}

# registry: with allowed_registries set, the image must come from one of its
# registry hosts or host/path prefixes. An image without a registry host is
# from docker.io, and a one-part name is under docker.io/library.
deny contains msg if {
	container_pool
	image := input.job.image
	image != ""
	count(settings.allowed_registries) > 0
	not registry_allowed(image_repository(image))
	msg := sprintf(
		"registry: image %s is not from an allowed registry (allowed: %s)",
		[image, listed(settings.allowed_registries)],
	)
}

# digest: with require_digest set, the image must be pinned by a sha256 digest.
deny contains sprintf("digest: image %s is not pinned by a sha256 digest", [image]) if {
	container_pool
	settings.require_digest
	image := input.job.image
	image != ""
	not regex.match(`@sha256:[a-f0-9]{64}$`, image)
}

registry_allowed(repository) if {
	some prefix in settings.allowed_registries
	under(repository, lower(prefix))
}

# image_repository returns the fully qualified repository of an image
# reference, lower case, without its tag or digest:
# "etl:1.0" is "docker.io/library/etl".
image_repository(ref) := repository if {
	parts := split(split(ref, "@")[0], "/")
	last := count(parts) - 1
	path := array.concat(array.slice(parts, 0, last), [split(parts[last], ":")[0]])
	repository := lower(concat("/", qualified(path)))
}

qualified(path) := path if {
	count(path) > 1
	registry_host(path[0])
}

qualified(path) := array.concat(["docker.io"], path) if {
	count(path) > 1
	not registry_host(path[0])
}

qualified(path) := ["docker.io", "library", path[0]] if count(path) == 1

# registry_host reports whether the first part of an image reference names a
# registry rather than a Docker Hub namespace, the way Docker tells them apart.
registry_host(part) if contains(part, ".")

registry_host(part) if contains(part, ":")

registry_host("localhost")
