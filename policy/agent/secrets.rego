package ferry.agent

# secret: every secret reference must match one of allowed_secret_refs, glob
# patterns in which "*" stays within one "/"-separated level and "**" spans
# levels ("aws-sm://prod/*", "env://FERRY_*"). None are allowed by default.
# This rule applies to every pool type, process pools included.
deny contains msg if {
	some name, ref in input.job.secrets
	not secret_ref_allowed(ref)
	msg := sprintf(
		"secret: %s refers to %s, which is not an allowed secret reference (allowed: %s)",
		[name, ref, listed(settings.allowed_secret_refs)],
	)
}

secret_ref_allowed(ref) if {
	some pattern in settings.allowed_secret_refs
	glob.match(pattern, ["/"], ref)
}
