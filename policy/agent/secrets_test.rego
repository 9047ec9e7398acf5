package ferry.agent_test

import data.ferry.agent

secret_refs := {"allowed_secret_refs": ["env://FERRY_*", "aws-sm://prod/*"]}

with_secrets(secrets) := with_job({"secrets": secrets})

test_secret_denied_by_default if {
	order := with_secrets({"TOKEN": "env://FERRY_TOKEN"})
	msg := "secret: TOKEN refers to env://FERRY_TOKEN, which is not an allowed secret reference (allowed: none)"
	msg in agent.deny with input as order
}

test_approved_secret_refs_allow if {
	order := with_secrets({"TOKEN": "env://FERRY_TOKEN", "DB_PASSWORD": "aws-sm://prod/db#password"})
	agent.allow with input as order with data.ferry.agent.config as secret_refs
}

test_unapproved_secret_ref_denies if {
	order := with_secrets({"TOKEN": "env://FERRY_TOKEN", "DB_PASSWORD": "aws-sm://staging/db#password"})
	deny := agent.deny with input as order with data.ferry.agent.config as secret_refs
	deny == {concat("", [
		"secret: DB_PASSWORD refers to aws-sm://staging/db#password, which is not an allowed ",
		"secret reference (allowed: env://FERRY_*, aws-sm://prod/*)",
	])}
}

test_star_stays_within_one_level if {
	order := with_secrets({"KEY": "aws-sm://prod/team/key"})
	not agent.allow with input as order with data.ferry.agent.config as secret_refs
	agent.allow with input as order with data.ferry.agent.config as {"allowed_secret_refs": ["aws-sm://prod/**"]}
}

test_secret_rule_applies_to_process_order if {
	order := object.union(process_order, {"job": {"secrets": {"HOME_KEY": "file:///root/.ssh/id_ed25519"}}})
	not agent.allow with input as order with data.ferry.agent.config as secret_refs
}

test_approved_secret_ref_allowed_for_process_order if {
	order := object.union(process_order, {"job": {"secrets": {"TOKEN": "env://FERRY_TOKEN"}}})
	agent.allow with input as order with data.ferry.agent.config as secret_refs
}
