#!/usr/bin/env bash
# Builds the release server and runs the load benchmark against it on 127.0.0.1 with a fresh
# database. Stops by itself after about half a minute. Not part of the test suite.
#
#   scripts/bench.sh                         SQLite, one process
#   scripts/bench.sh --postgres              a fresh PostgreSQL database (GATEHOUSE_BENCH_POSTGRES,
#                                            default postgres://postgres@127.0.0.1:5432/postgres)
#   scripts/bench.sh --postgres --processes 2
#                                            two processes on that database, load round-robin
set -euo pipefail
cd "$(dirname "$0")/.."
postgres=false
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) postgres=true ;;
    --processes) bench_args+=(--processes "$2"); shift ;;
    *) echo "usage: $0 [--postgres] [--processes N]" >&2; exit 2 ;;
  esac
  shift
done
scripts/setup.sh
cargo xtask build --release
cargo build --release -p gatehouse-bench --bins
if $postgres; then
  admin="${GATEHOUSE_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
  name="gatehouse_bench_$(date +%s)"
  psql -q "$admin" -c "CREATE DATABASE $name"
  trap 'psql -q "$admin" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)"' EXIT
  export GATEHOUSE_DATABASE_URL="${admin%/*}/$name"
fi
target/release/gatehouse-bench "${bench_args[@]}" target/release/gatehouse
