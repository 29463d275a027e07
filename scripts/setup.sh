#!/usr/bin/env bash
# Installs what building (and, with --test, testing) Gatehouse needs. Idempotent: each step
# is skipped when its tool is already there at the right version. Downloads nothing but
# packages from crates.io, Debian, npm and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
testing=""; [[ "${1:-}" == "--test" ]] && testing=1

# The wasm32 target and the wasm-bindgen CLI at exactly Cargo.lock's version.
cargo xtask setup

# binaryen's wasm-opt shrinks the release wasm bundle (`cargo xtask build --release`), pinned
# in tools/package-lock.json. From npm, not Debian: Debian's binaryen (108) mis-optimises the
# wasm that rustc emits today (the bundle then fails at run time).
if [[ ! -x tools/node_modules/.bin/wasm-opt || tools/package-lock.json -nt tools/node_modules/.package-lock.json ]]; then
  (cd tools && npm ci --no-audit --no-fund --loglevel=error)
fi

# Debian packages, installed together with one `apt-get update`, and only when one is missing.
apt_packages=()
if [[ -n "$testing" ]]; then
  # Debian's Chromium for the browser tests (never a browser download of Playwright's own).
  command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
  # `python3 -m venv` for the contract tests' virtualenv (Debian splits ensurepip out).
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_packages+=(python3-venv)
fi
if (( ${#apt_packages[@]} )); then
  if command -v apt-get >/dev/null 2>&1; then
    as_root=""; [[ $(id -u) -ne 0 ]] && as_root="sudo"
    $as_root apt-get update -qq
    $as_root apt-get install -y -qq "${apt_packages[@]}"
  elif [[ -n "$testing" ]]; then
    echo "setup: apt-get not found; install ${apt_packages[*]} (Debian package names)" >&2
    exit 1
  fi
fi

if [[ -n "$testing" ]]; then
  # rustfmt and clippy for the format and lint step of scripts/test.sh.
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
  done
  # playwright-core and mailparser for end2end/, from the lock file.
  if [[ ! -d end2end/node_modules/playwright-core || end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]]; then
    (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
  fi
  # schemathesis and the OpenAPI validator for scripts/contract-test.sh, at exactly the versions
  # pinned in scripts/contract-requirements.txt, in their own venv (.venv-contract/, not in git).
  # The venv keeps a copy of the requirements it was made from; a changed pin reinstalls.
  if ! cmp -s scripts/contract-requirements.txt .venv-contract/requirements.installed \
      || ! .venv-contract/bin/python -c '' >/dev/null 2>&1; then
    # A venv whose interpreter is gone (python3 upgraded or moved) is rebuilt from scratch.
    .venv-contract/bin/python -c '' >/dev/null 2>&1 || { rm -rf .venv-contract; python3 -m venv .venv-contract; }
    .venv-contract/bin/python -m pip install -q --disable-pip-version-check -r scripts/contract-requirements.txt
    cp scripts/contract-requirements.txt .venv-contract/requirements.installed
  fi
fi
