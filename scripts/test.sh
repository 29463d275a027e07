#!/usr/bin/env bash
# Runs every test: unit and integration tests on SQLite, the same again on PostgreSQL, and
# the browser tests in end2end/. Installs what it needs first (see scripts/setup.sh).
#
# PostgreSQL: GATEHOUSE_TEST_PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres)
# names a server where this script may create and drop a throwaway database. Set
# GATEHOUSE_SKIP_POSTGRES=1 to skip that pass.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
step() { printf '\n==> %s (%ss)\n' "$1" $((SECONDS - started)); }

step "setup"
scripts/setup.sh --test

step "build: web bundle and server"
cargo xtask build

# After the build: the server embeds the web bundle the build just made.
step "format and lints"
cargo fmt --check
cargo clippy --all-targets -- -D warnings

step "tests on SQLite"
cargo test

step "API contract: schemathesis against a live server (SQLite)"
scripts/contract-server.sh

step "seed 000 replayed with the real HTTPie against a live server"
scripts/compat-httpie.sh

if [[ "${GATEHOUSE_SKIP_POSTGRES:-}" != "1" ]]; then
  step "tests on PostgreSQL"
  admin_url="${GATEHOUSE_TEST_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  if ! pg_isready -q -d "$admin_url" 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]]; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
      for _ in $(seq 1 30); do pg_isready -q -d "$admin_url" && break; sleep 1; done
    fi
  fi
  pg_isready -q -d "$admin_url" || { echo "PostgreSQL is not reachable at $admin_url" >&2; exit 1; }
  run_db="gatehouse_ci_$(date +%s)_$$"
  drop_test_databases() {
    psql -q -d "$admin_url" -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'gatehouse_test_%' OR datname = '$run_db'" \
      | while read -r db; do psql -q -d "$admin_url" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null; done
  }
  trap drop_test_databases EXIT
  psql -q -d "$admin_url" -c "CREATE DATABASE $run_db"
  GATEHOUSE_TEST_DATABASE_URL="${admin_url%/*}/$run_db" cargo test
fi

step "browser tests (end2end)"
(cd end2end && npm test)

# The release bundle is what ships: built with the wasm-release profile and wasm-opt, it must
# hydrate too (an old wasm-opt once produced a bundle that did not). The debug server serves
# whatever bundle target/site holds, so the hydrated flow runs again against the release one.
step "browser test with the release bundle"
cargo xtask site --release
# Only the islands are in the bundle (README, "Web app"): it stays under 1 MiB.
for wasm in target/site/pkg/*.wasm; do
  size=$(stat -c %s "$wasm")
  if ((size >= 1024 * 1024)); then
    echo "the release wasm bundle $wasm is $((size / 1024)) KiB: over 1 MiB" >&2
    exit 1
  fi
done
(cd end2end && node --test --test-concurrency=1 --test-name-pattern="hydrated" tests/)
cargo xtask site

step "all tests passed"
