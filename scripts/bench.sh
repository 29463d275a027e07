#!/usr/bin/env bash
# Builds the release server and runs the load benchmark against it on 127.0.0.1 with a fresh
# database. Stops by itself after about half a minute. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo xtask build --release
cargo build --release -p gatehouse-bench --bins
target/release/gatehouse-bench target/release/gatehouse
