#!/usr/bin/env bash
# Installs what building (and, with --test, testing) Gatehouse needs. Idempotent: each step
# is skipped when its tool is already there at the right version. Downloads nothing but
# packages from crates.io, Debian and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

# The wasm32 target and the wasm-bindgen CLI at exactly Cargo.lock's version.
cargo xtask setup

if [[ "${1:-}" == "--test" ]]; then
  # Debian's Chromium for the browser tests (never a browser download of Playwright's own).
  if ! command -v chromium >/dev/null 2>&1; then
    as_root=""; [[ $(id -u) -ne 0 ]] && as_root="sudo"
    $as_root apt-get update -qq
    $as_root apt-get install -y -qq chromium
  fi
  # playwright-core and mailparser for end2end/, from the lock file.
  if [[ ! -d end2end/node_modules/playwright-core || end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]]; then
    (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
