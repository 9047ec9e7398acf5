package ferry.agent_test

import data.ferry.agent

registries := {"allowed_registries": ["registry.local:5000", "ghcr.io/ferryhq"]}

test_image_repository if {
	agent.image_repository("etl") == "docker.io/library/etl"
	agent.image_repository("etl:1.0") == "docker.io/library/etl"
	agent.image_repository("team/etl:1.0") == "docker.io/team/etl"
	agent.image_repository("localhost/etl") == "localhost/etl"
	agent.image_repository("localhost:5000/etl:1.0") == "localhost:5000/etl"
	agent.image_repository("Registry.Local:5000/team/etl:1.0") == "registry.local:5000/team/etl"
	agent.image_repository(concat("@", ["ghcr.io/ferryhq/etl", digest])) == "ghcr.io/ferryhq/etl"
}

test_missing_image_denies if {
	"image: the work order names no image" in agent.deny with input as with_job({"image": ""})
}

test_process_order_needs_no_image if {
	order := object.union(process_order, {"job": {"image": ""}})
	agent.allow with input as order
}

test_allowed_registry_host_allows if {
	agent.allow with input as docker_order with data.ferry.agent.config as registries
}

test_allowed_registry_path_prefix_allows if {
	order := with_job({"image": "ghcr.io/ferryhq/etl:1.0"})
	agent.allow with input as order with data.ferry.agent.config as registries
}

test_foreign_registry_denies if {
	order := with_job({"image": "evil.example/x"})
	msg := "registry: image evil.example/x is not from an allowed registry (allowed: registry.local:5000, ghcr.io/ferryhq)"
	msg in agent.deny with input as order with data.ferry.agent.config as registries
}

test_registry_prefix_is_matched_by_level if {
	some image in ["registry.local:5000.evil.example/x", "ghcr.io/ferryhq-evil/x", "etl"]
	not agent.allow with input as with_job({"image": image}) with data.ferry.agent.config as registries
}

test_empty_registry_list_allows_any if {
	agent.allow with input as with_job({"image": "evil.example/x"})
}

test_registry_not_checked_for_process_order if {
	order := object.union(process_order, {"job": {"image": "evil.example/x"}})
	agent.allow with input as order with data.ferry.agent.config as registries
}

test_digest_pinned_allows if {
	agent.allow with input as docker_order with data.ferry.agent.config as {"require_digest": true}
}

test_tag_without_digest_denies if {
	order := with_job({"image": "registry.local:5000/team/etl:1.0"})
	msg := "digest: image registry.local:5000/team/etl:1.0 is not pinned by a sha256 digest"
	msg in agent.deny with input as order with data.ferry.agent.config as {"require_digest": true}
}

test_short_digest_denies if {
	order := with_job({"image": "registry.local:5000/team/etl@sha256:0123"})
	not agent.allow with input as order with data.ferry.agent.config as {"require_digest": true}
}

test_digest_not_required_by_default if {
	agent.allow with input as with_job({"image": "registry.local:5000/team/etl:1.0"})
}
