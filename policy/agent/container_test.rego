package ferry.agent_test

import data.ferry.agent

test_privileged_denies if {
	msg := "privileged: deployment etl asks for a privileged container, which this agent does not allow"
	msg in agent.deny with input as with_container({"privileged": true})
}

test_privileged_allowed_by_setting if {
	order := with_container({"privileged": true})
	agent.allow with input as order with data.ferry.agent.config as {"allow_privileged": true}
}

test_privileged_ignored_for_process_order if {
	order := object.union(process_order, {"job": {"container": {"privileged": true}}})
	agent.allow with input as order
}

test_host_network_denies if {
	msg := "network: the host network is not allowed (allow_host_network is off)"
	some network in ["host", "HOST", " host "]
	msg in agent.deny with input as with_container({"network": network})
}

test_host_network_allowed_by_setting if {
	order := with_container({"network": "host"})
	agent.allow with input as order with data.ferry.agent.config as {"allow_host_network": true}
}

test_named_network_allowed_by_default if {
	agent.allow with input as with_container({"network": "etl-net"})
}

test_network_outside_allowed_list_denies if {
	order := with_container({"network": "bridge"})
	msg := "network: network bridge is not an allowed network (allowed: etl-net)"
	msg in agent.deny with input as order with data.ferry.agent.config as {"allowed_networks": ["etl-net"]}
}

test_network_in_allowed_list_allows if {
	order := with_container({"network": "etl-net"})
	agent.allow with input as order with data.ferry.agent.config as {"allowed_networks": ["etl-net"]}
}

test_default_network_must_be_listed if {
	config := {"allowed_networks": ["etl-net"]}
	"network: network default is not an allowed network (allowed: etl-net)" in agent.deny with input as docker_order
		with data.ferry.agent.config as config
	agent.allow with input as docker_order with data.ferry.agent.config as {"allowed_networks": ["default"]}
}

test_listed_host_network_still_needs_setting if {
	order := with_container({"network": "host"})
	not agent.allow with input as order with data.ferry.agent.config as {"allowed_networks": ["host"]}
}

mount(source) := {"source": source, "target": "/in", "read_only": true}

test_mount_denied_by_default if {
	order := with_container({"mounts": [mount("/data")]})
	msg := "mount: source /data is outside the allowed mount sources (allowed: none)"
	msg in agent.deny with input as order
}

test_mount_under_allowed_prefix_allows if {
	order := with_container({"mounts": [mount("/data"), mount("/data/in/day")]})
	agent.allow with input as order with data.ferry.agent.config as {"allowed_mount_sources": ["/data"]}
}

test_mount_outside_allowed_prefix_denies if {
	order := with_container({"mounts": [mount("/data"), mount("/etc")]})
	config := {"allowed_mount_sources": ["/data", "/srv/"]}
	deny := agent.deny with input as order with data.ferry.agent.config as config
	deny == {"mount: source /etc is outside the allowed mount sources (allowed: /data, /srv/)"}
}

test_mount_sibling_of_prefix_denies if {
	order := with_container({"mounts": [mount("/database")]})
	not agent.allow with input as order with data.ferry.agent.config as {"allowed_mount_sources": ["/data"]}
}

test_unclean_mount_source_denies if {
	config := {"allowed_mount_sources": ["/"]}
	some source in ["/data/../etc", "/data/./in", "data", "/data/", "//data", "my-volume"]
	msg := sprintf("mount: source %s is not a clean absolute path", [source])
	msg in agent.deny with input as with_container({"mounts": [mount(source)]}) with data.ferry.agent.config as config
}

test_root_mount_needs_root_prefix if {
	order := with_container({"mounts": [mount("/")]})
	agent.allow with input as order with data.ferry.agent.config as {"allowed_mount_sources": ["/"]}
	not agent.allow with input as order with data.ferry.agent.config as {"allowed_mount_sources": ["/data"]}
}

caps := {"max_milli_cpus": 1000, "max_memory_bytes": 536870912}

test_within_caps_allows if {
	agent.allow with input as docker_order with data.ferry.agent.config as caps
}

test_at_caps_allows if {
	order := with_container({"milli_cpus": 1000, "memory_bytes": 536870912})
	agent.allow with input as order with data.ferry.agent.config as caps
}

test_above_cpu_cap_denies if {
	order := with_container({"milli_cpus": 1500})
	deny := agent.deny with input as order with data.ferry.agent.config as caps
	deny == {"resources: cpu limit of 1500 millicpus is above this agent's cap of 1000 millicpus"}
}

test_above_memory_cap_denies if {
	order := with_container({"memory_bytes": 1073741824})
	deny := agent.deny with input as order with data.ferry.agent.config as caps
	deny == {"resources: memory limit of 1073741824 bytes is above this agent's cap of 536870912 bytes"}
}

test_uncapped_container_denied_when_agent_caps if {
	order := with_container({"milli_cpus": 0, "memory_bytes": 0})
	deny := agent.deny with input as order with data.ferry.agent.config as caps
	deny == {
		"resources: the work order sets no cpu limit, but this agent caps cpu at 1000 millicpus",
		"resources: the work order sets no memory limit, but this agent caps memory at 536870912 bytes",
	}
}

test_no_cap_allows_anything if {
	agent.allow with input as with_container({"milli_cpus": 256000, "memory_bytes": 0})
}

test_caps_ignored_for_process_order if {
	agent.allow with input as process_order with data.ferry.agent.config as {"max_milli_cpus": 100}
}
