package ferry.agent_test

import data.ferry.agent

digest := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

# docker_order is a work order every default setting allows.
docker_order := {
	"run": {
		"id": "0b7c9a52-5b7e-4d0e-9a43-6a1f8e7f7f10",
		"attempt": 1,
		"deployment": "etl",
		"pool_type": "docker",
	},
	"job": {
		"image": concat("@", ["registry.local:5000/team/etl", digest]),
		"command": ["/etl", "--day", "{{ .day }}"],
		"env_names": ["LOG_LEVEL"],
		"secrets": {},
		"container": {
			"privileged": false,
			"user": "",
			"milli_cpus": 500,
			"memory_bytes": 268435456,
			"network": "",
			"mounts": [],
		},
	},
	"agent": {"name": "agent-1", "pool": "docker-pool"},
}

# process_order is docker_order on a process pool.
process_order := object.union(docker_order, {"run": {"pool_type": "process"}})

# with_job returns docker_order with job fields replaced.
with_job(job) := object.union(docker_order, {"job": job})

# with_container returns docker_order with container fields replaced.
with_container(container) := with_job({"container": container})

test_default_settings_allow_a_plain_order if {
	agent.allow with input as docker_order
	count(agent.deny) == 0 with input as docker_order
}

test_default_settings_allow_a_plain_process_order if {
	agent.allow with input as process_order
}

test_missing_config_takes_defaults if {
	agent.settings == agent.default_settings with input as docker_order
}

test_config_overrides_defaults if {
	s := agent.settings with data.ferry.agent.config as {"require_digest": true}
	s.require_digest
	s.allowed_registries == []
}

test_config_not_an_object_denies if {
	"config: the settings must be an object" in agent.deny with input as docker_order
		with data.ferry.agent.config as "strict"
}

test_config_null_is_defaults if {
	agent.allow with input as docker_order with data.ferry.agent.config as null
}

test_unknown_setting_denies if {
	"config: unknown setting \"allowed_registry\"" in agent.deny with input as docker_order
		with data.ferry.agent.config as {"allowed_registry": ["x"]}
}

test_custom_setting_is_accepted if {
	agent.allow with input as docker_order with data.ferry.agent.config as {"custom": {"team": "data"}}
}

test_mistyped_setting_denies if {
	msg := "config: setting require_digest must be of type boolean, not string"
	msg in agent.deny with input as docker_order with data.ferry.agent.config as {"require_digest": "yes"}
}

test_setting_list_of_non_strings_denies if {
	msg := "config: setting allowed_registries must list only strings"
	msg in agent.deny with input as docker_order with data.ferry.agent.config as {"allowed_registries": [5000]}
}

test_fractional_cap_denies if {
	msg := "config: setting max_milli_cpus must be a whole number of at least 0"
	msg in agent.deny with input as docker_order with data.ferry.agent.config as {"max_milli_cpus": 1.5}
}

test_negative_cap_denies if {
	msg := "config: setting max_memory_bytes must be a whole number of at least 0"
	msg in agent.deny with input as docker_order with data.ferry.agent.config as {"max_memory_bytes": -1}
}

test_well_typed_config_has_no_errors if {
	config := {
		"allowed_registries": ["registry.local:5000"],
		"require_digest": true,
		"allowed_mount_sources": ["/data"],
		"max_milli_cpus": 2000,
		"max_memory_bytes": 1073741824,
		"allowed_secret_refs": ["env://FERRY_*"],
		"allow_privileged": false,
		"allowed_networks": ["default"],
		"allow_host_network": false,
	}
	count(agent.config_errors) == 0 with data.ferry.agent.config as config
	agent.allow with input as docker_order with data.ferry.agent.config as config
}

test_missing_input_denies if {
	"input: the input document is missing or not an object" in agent.deny
}

test_input_not_an_object_denies if {
	not agent.allow with input as ["not", "an", "order"]
}

test_missing_job_denies if {
	order := json.remove(docker_order, ["job"])
	"input: job must be of type object, not null" in agent.deny with input as order
	"input: job.image must be of type string, not null" in agent.deny with input as order
}

test_mistyped_field_denies if {
	order := with_container({"milli_cpus": "500"})
	"input: job.container.milli_cpus must be of type number, not string" in agent.deny with input as order
}

test_command_of_non_strings_denies if {
	"input: job.command[1] must be a string" in agent.deny with input as with_job({"command": ["/etl", 7]})
}

test_secret_ref_not_a_string_denies if {
	order := with_job({"secrets": {"TOKEN": {"ref": "env://X"}}})
	"input: job.secrets[\"TOKEN\"] must be a string" in agent.deny with input as order
}

test_mount_not_an_object_denies if {
	order := with_container({"mounts": ["/data:/in"]})
	"input: job.container.mounts[0] must be an object" in agent.deny with input as order
}

test_mount_missing_field_denies if {
	order := with_container({"mounts": [{"source": "/data", "target": "/in"}]})
	msg := "input: job.container.mounts[0].read_only must be of type boolean, not null"
	msg in agent.deny with input as order
}

test_under if {
	agent.under("/data", "/data")
	agent.under("/data/in", "/data/")
	agent.under("/anything", "/")
	not agent.under("/database", "/data")
	not agent.under("/", "/data")
}

test_listed if {
	agent.listed([]) == "none"
	agent.listed(["a", "b"]) == "a, b"
}
