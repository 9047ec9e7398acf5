#!/usr/bin/env bash
# make bench: runs the Go benchmarks of the control plane's hot in-memory
# paths, then the load driver, which starts a real `bin/ferry server` (built
# by `make build`) with its own embedded PostgreSQL on a free loopback port,
# measures it and prints one line per figure. Arguments are passed to the
# load driver (see `go run ./bench/loaddriver -h`). Benchmarks are not tests:
# nothing here passes or fails on a number.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

if [ ! -x bin/ferry ]; then
	echo "bench: bin/ferry is missing; run make build (make bench does)" >&2
	exit 1
fi

# Every package with a Go benchmark, found rather than listed, so a new
# benchmark is picked up.
mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Benchmark' controlplane agent internal 2>/dev/null |
	xargs -r -n1 dirname | sort -u | sed 's|^|./|')
if [ "${#pkgs[@]}" -gt 0 ]; then
	echo "== Go benchmarks"
	"$GO" test -run '^$' -bench . -benchmem "${pkgs[@]}"
fi

echo "== load driver"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$GO" build -o "$tmp/loaddriver" ./bench/loaddriver
"$tmp/loaddriver" -ferry bin/ferry "$@"
