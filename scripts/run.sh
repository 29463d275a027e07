#!/usr/bin/env bash
# Builds Gatehouse and starts it on http://127.0.0.1:3000 with the embedded defaults:
# SQLite in ./data, mail to the console and ./data/outbox, a secret key generated into ./data.
# Any GATEHOUSE_* variable set in the environment applies.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo xtask build
exec target/debug/gatehouse serve "$@"
