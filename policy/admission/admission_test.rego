package ferry.admission_test

import data.ferry.admission

digest := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

# plain is a deployment the default settings admit.
plain := {
	"workspace": "0b7c9a52-5b7e-4d0e-9a43-6a1f8e7f7f10",
	"deployment": "etl",
	"pool_type": "docker",
	"spec": {
		"image": concat("@", ["registry.local:5000/team/etl", digest]),
		"tags": ["team=data", "tier=batch"],
		"secrets": {"DB_PASSWORD": "aws-sm://prod/db#password"},
		"container": {
			"privileged": false,
			"milli_cpus": 500,
			"memory_bytes": 268435456,
			"network": "",
			"mounts": [{"source": "/data", "target": "/in", "read_only": true}],
		},
	},
}

with_spec(fields) := object.union(plain, {"spec": fields})

with_container(fields) := with_spec({"container": fields})

on_process(doc) := object.union(doc, {"pool_type": "process"})

test_defaults_admit_a_plain_deployment if {
	admission.allow with input as plain
	count(admission.deny) == 0 with input as plain
}

test_minimal_spec_is_admitted if {
	admission.allow with input as {"deployment": "etl", "pool_type": "docker", "spec": {"image": "etl"}}
}

test_missing_spec_denies if {
	"input: the input document has no spec object" in admission.deny with input as {"deployment": "etl"}
}

test_privileged_denied_by_default if {
	msg := "privileged: deployment etl asks for a privileged container, which is not allowed (allow_privileged is off)"
	admission.deny == {msg} with input as with_container({"privileged": true})
}

test_privileged_allowed_by_setting if {
	admission.allow with input as with_container({"privileged": true})
		with data.ferry.admission.config as {"allow_privileged": true}
}

test_container_rules_skip_process_pools if {
	admission.allow with input as on_process(with_container({"privileged": true, "network": "host"}))
}

test_host_network_denied if {
	msg := "network: deployment etl asks for the host network, which is not allowed (allow_host_network is off)"
	msg in admission.deny with input as with_container({"network": " Host"})
	admission.allow with input as with_container({"network": "host"}) with data.ferry.admission.config as {"allow_host_network": true}
}

test_system_mounts_denied if {
	every source in ["/", "/etc", "/etc/passwd", "/var/run/docker.sock", "/proc/1"] {
		msg := sprintf("mount: source %s is a host system path, which may not be mounted", [source])
		msg in admission.deny with input as with_container({"mounts": [{"source": source, "target": "/x", "read_only": true}]})
	}
}

test_other_mounts_admitted if {
	every source in ["/data", "/etcetera", "/srv/etc"] {
		admission.allow with input as with_container({"mounts": [{"source": source, "target": "/x", "read_only": false}]})
	}
}

test_unclean_mount_denied if {
	msg := "mount: source /data/../etc is not a clean absolute path"
	msg in admission.deny with input as with_container({"mounts": [{"source": "/data/../etc", "target": "/x", "read_only": true}]})
	not admission.allow with input as with_container({"mounts": [{"source": "data", "target": "/x", "read_only": true}]})
}

registries := {"allowed_registries": ["registry.local:5000", "ghcr.io/ferryhq"]}

test_allowed_registries if {
	admission.allow with input as plain with data.ferry.admission.config as registries
	admission.allow with input as with_spec({"image": "ghcr.io/ferryhq/etl:1"}) with data.ferry.admission.config as registries
}

test_foreign_registry_denied if {
	msg := "registry: image evil.example/x is not from an allowed registry (allowed: registry.local:5000, ghcr.io/ferryhq)"
	admission.deny == {msg} with input as with_spec({"image": "evil.example/x"}) with data.ferry.admission.config as registries
}

test_registry_matched_by_level if {
	every image in ["ghcr.io/ferryhq-evil/x", "registry.local:5000.evil.example/x", "etl", "team/etl:1", "localhost/etl"] {
		not admission.allow with input as with_spec({"image": image}) with data.ferry.admission.config as registries
	}
}

test_image_repository if {
	admission.image_repository("etl") == "docker.io/library/etl"
	admission.image_repository("team/etl:1.0") == "docker.io/team/etl"
	admission.image_repository("localhost:5000/etl:1.0") == "localhost:5000/etl"
	admission.image_repository("localhost/etl") == "localhost/etl"
	admission.image_repository(concat("@", ["GHCR.io/ferryhq/etl", digest])) == "ghcr.io/ferryhq/etl"
}

test_digest_required if {
	config := {"require_digest": true}
	admission.allow with input as plain with data.ferry.admission.config as config
	msg := "digest: image etl:1 is not pinned by a sha256 digest (require_digest is on)"
	admission.deny == {msg} with input as with_spec({"image": "etl:1"}) with data.ferry.admission.config as config
}

caps := {"max_milli_cpus": 1000, "max_memory_bytes": 536870912}

test_limits_within_caps_admitted if {
	admission.allow with input as plain with data.ferry.admission.config as caps
}

test_limit_above_cap_denied if {
	msg := "resources: cpu limit of 2000 millicpus is above the cap of 1000 millicpus (max_milli_cpus)"
	admission.deny == {msg} with input as with_container({"milli_cpus": 2000}) with data.ferry.admission.config as caps
}

test_missing_limit_denied_under_cap if {
	msg := "resources: container.memory_bytes is not set, but max_memory_bytes caps it at 536870912 bytes"
	admission.deny == {msg} with input as with_container({"memory_bytes": 0}) with data.ferry.admission.config as caps
}

test_required_tags if {
	config := {"required_tags": ["team=*", "tier=batch"]}
	admission.allow with input as plain with data.ferry.admission.config as config
	msg := "tags: deployment etl has no tag matching team=* (required_tags)"
	admission.deny == {msg} with input as with_spec({"tags": ["tier=batch"]}) with data.ferry.admission.config as config
}

test_secret_refs if {
	config := {"allowed_secret_refs": ["aws-sm://prod/*", "env://FERRY_*"]}
	admission.allow with input as plain with data.ferry.admission.config as config
	doc := with_spec({"secrets": {"TOKEN": "aws-sm://staging/token"}})
	msg := "secret: TOKEN refers to aws-sm://staging/token, which is not an allowed secret reference (allowed: aws-sm://prod/*, env://FERRY_*)"
	admission.deny == {msg} with input as doc with data.ferry.admission.config as config
	not admission.allow with input as on_process(doc) with data.ferry.admission.config as config
}

test_any_secret_ref_by_default if {
	admission.allow with input as with_spec({"secrets": {"KEY": "file:///etc/key"}})
}

test_unknown_setting_denies if {
	"config: unknown setting \"allow_privilege\"" in admission.deny with input as plain
		with data.ferry.admission.config as {"allow_privilege": true}
}

test_mistyped_setting_denies if {
	msg := "config: setting max_milli_cpus must be of type number, not string"
	msg in admission.deny with input as plain with data.ferry.admission.config as {"max_milli_cpus": "1000"}
}

test_config_not_an_object_denies if {
	"config: the settings must be an object" in admission.deny with input as plain
		with data.ferry.admission.config as ["strict"]
	admission.allow with input as plain with data.ferry.admission.config as null
}

test_workspace_denials_join if {
	deny := admission.deny with input as plain with data.ferry.admission.workspace.deny as {"no friday deploys"}
	deny == {"workspace: no friday deploys"}
}

test_listed if {
	admission.listed([]) == "none"
	admission.listed(["a", "b"]) == "a, b"
}
