#!/usr/bin/env bash
# Starts the debug server (built by `cargo xtask build`) on a free port with a fresh SQLite
# database, runs the given command with GATEHOUSE_TEST_BASE set to its URL (and
# GATEHOUSE_TEST_DATA_DIR to its data directory, GATEHOUSE_TEST_OUTBOX to its outbox), and stops it.
# Used by the contract tests and the seed replays of scripts/test.sh. Extra settings come from
# the environment (GATEHOUSE_*), like any start of the server.
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-test-server.XXXXXX")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
GATEHOUSE_BIND="127.0.0.1:$port" GATEHOUSE_DATA_DIR="$data_dir" GATEHOUSE_LOG=warn \
  target/debug/gatehouse serve >"$data_dir/server.log" 2>&1 &
server=$!
stop() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data_dir"; }
trap stop EXIT
for _ in $(seq 1 100); do
  python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
status=0
GATEHOUSE_TEST_BASE="http://127.0.0.1:$port" GATEHOUSE_TEST_OUTBOX="$data_dir/outbox" GATEHOUSE_TEST_DATA_DIR="$data_dir" \
  "$@" || status=$?
if [[ $status -ne 0 ]]; then
  echo "---- server log ----" >&2
  tail -n 50 "$data_dir/server.log" >&2
fi
exit $status
