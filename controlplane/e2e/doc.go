// Package e2e holds Ferry's end-to-end tests; it has no code of its own.
//
// Two kinds of test live here. The in-process tests start the control plane
// with server.New on a fresh database and a fake clock, and play a scripted
// agent over the real AgentService protocol, so each protocol rule (offers,
// fencing tokens, duplicates, cancels, lease expiry, retries, tenancy, input
// limits) is exercised through real HTTP without sleeping. The binary tests
// build the real ferry and ferry-agent commands once per test process and
// drive them as a user would: apply, run, cancel, kill -9 and restart.
//
// The Docker tests (docker_*_test.go) run the same binaries with a docker
// work pool on a private Docker engine started by internal/dockertest, and
// check the customer side of the trust boundary: signed orders, the agent's
// built-in policy, secrets resolved by the agent (from an in-process AWS
// fake) and masked before any line reaches the control plane. They skip when
// no engine can start here, and fail instead under FERRY_REQUIRE_DOCKER=1.
//
// Every test ends by running the invariant checker over its database. The
// binary tests are skipped under -short.
package e2e
