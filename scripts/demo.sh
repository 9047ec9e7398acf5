#!/usr/bin/env bash
# make demo: starts a control plane on its embedded PostgreSQL and an agent,
# applies the example pipeline, runs it to the end with live state and logs,
# prints the outcome, and stops both processes cleanly. With FERRY_DEMO_STAY=1
# the control plane, its web UI and the agent keep running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

ADDR=${FERRY_DEMO_ADDR:-127.0.0.1:8080}
DATA=${FERRY_DEMO_DATA:-$PWD/.data/demo}
export FERRY_SERVER="http://$ADDR"
export FERRY_DATA_DIR="$DATA"
mkdir -p "$DATA"
chmod 755 "$DATA"

pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	echo "demo: stopped the agent and the control plane (data kept in $DATA; logs in $DATA/*.log)"
}
trap cleanup EXIT

if curl -sf "http://$ADDR/healthz" >/dev/null 2>&1; then
	echo "demo: something already listens on $ADDR; stop it or set FERRY_DEMO_ADDR=127.0.0.1:PORT" >&2
	exit 1
fi

echo "demo: starting the control plane on $ADDR (embedded PostgreSQL in $DATA/postgres)"
bin/ferry server --addr "$ADDR" --data-dir "$DATA" >"$DATA/server.out" 2>"$DATA/server.log" &
pids+=($!)
for _ in $(seq 1 150); do
	curl -sf "http://$ADDR/readyz" >/dev/null 2>&1 && break
	if ! kill -0 "${pids[0]}" 2>/dev/null; then
		echo "demo: the control plane exited; its log:" >&2
		tail -20 "$DATA/server.log" >&2
		exit 1
	fi
	sleep 0.2
done
curl -sf "http://$ADDR/readyz" >/dev/null || { echo "demo: control plane not ready; see $DATA/server.log" >&2; exit 1; }
cat "$DATA/server.out"

# A person to sign in to the web UI as; the password is made once per data
# directory and kept there (mode 0600).
UI_EMAIL=demo@ferry.local
UI_PASSWORD_FILE="$DATA/ui-password"
if [ ! -s "$UI_PASSWORD_FILE" ]; then
	(umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$UI_PASSWORD_FILE")
	bin/ferry user create "$UI_EMAIL" --role admin --name "Demo admin" --password-file "$UI_PASSWORD_FILE" >/dev/null
fi
echo "demo: web UI at http://$ADDR/ - sign in as $UI_EMAIL with the password $(cat "$UI_PASSWORD_FILE")"

echo "demo: applying examples/tzreport/ferry.yaml"
bin/ferry apply -f examples/tzreport/ferry.yaml

TOKEN_FILE="$DATA/agent-token"
if [ ! -s "$TOKEN_FILE" ]; then
	(umask 077; bin/ferry agent token create --pool local --name demo-agent 2>/dev/null >"$TOKEN_FILE")
fi

# The agent runs only work orders signed with a key it trusts.
echo "demo: saving the control plane's work-order signing keys for the agent"
bin/ferry keys ls --output agent >"$DATA/trusted-keys"

echo "demo: starting an agent for pool \"local\""
bin/ferry-agent --server "$FERRY_SERVER" --token-file "$TOKEN_FILE" --name demo-agent --capacity 4 \
	--trusted-keys-file "$DATA/trusted-keys" 2>"$DATA/agent.log" &
pids+=($!)

echo "demo: running the pipeline (live state and logs follow)"
echo
status=0
bin/ferry run start tzreport -p top_n=5 -p output_dir="$DATA/tzreport-out" --watch || status=$?
echo
run_id=$(bin/ferry run ls --limit 1 --output json 2>/dev/null | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -1)
if [ -n "$run_id" ]; then
	echo "demo: state history of run $run_id (server-stamped times):"
	bin/ferry run history "$run_id"
	echo
fi
if [ -f "$DATA/tzreport-out/report.md" ]; then
	echo "demo: the report is at $DATA/tzreport-out/report.md (summary.json beside it)"
fi
echo "demo: list runs with: FERRY_DATA_DIR=$DATA bin/ferry run ls   (while a server runs on $ADDR)"
if [ "${FERRY_DEMO_STAY:-}" = 1 ]; then
	echo "demo: the control plane, web UI (http://$ADDR/) and agent keep running; Ctrl-C stops them"
	wait "${pids[0]}" || true
else
	echo "demo: to keep the web UI up after the run, use FERRY_DEMO_STAY=1 make demo"
fi
exit $status
