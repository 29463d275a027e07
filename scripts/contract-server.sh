#!/usr/bin/env bash
# Starts the debug server (built by `cargo xtask build`) on a free port with a fresh SQLite
# database, runs scripts/contract-test.sh against it, and stops it. Part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-contract-data.XXXXXX")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Generated logins fail by the hundred from one address: a high per-address budget keeps the
# run about the contract (429 is still documented and checked where it happens).
GATEHOUSE_BIND="127.0.0.1:$port" GATEHOUSE_DATA_DIR="$data_dir" \
  GATEHOUSE_REQUIRE_EMAIL_VERIFICATION=false GATEHOUSE_LOGIN_FREE_ATTEMPTS_PER_IP=100000 \
  GATEHOUSE_LOG=warn target/debug/gatehouse serve >"$data_dir/server.log" 2>&1 &
server=$!
stop() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data_dir"; }
trap stop EXIT
for _ in $(seq 1 100); do
  python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
started=$SECONDS
status=0
scripts/contract-test.sh "http://127.0.0.1:$port" || status=$?
echo "contract tests took $((SECONDS - started)) s"
if [[ $status -ne 0 ]]; then
  echo "---- server log ----" >&2
  tail -n 50 "$data_dir/server.log" >&2
fi
exit $status
