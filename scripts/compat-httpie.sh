#!/usr/bin/env bash
# Replays seed 000's HTTPie transcript (scripts/compat-httpie.py) against a fresh debug server.
# The seed's back end let users log in right after sign-up, so the replay runs without email
# confirmation, as a team moving such clients over would. Part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
GATEHOUSE_REQUIRE_EMAIL_VERIFICATION=false \
  scripts/with-test-server.sh .venv-contract/bin/python scripts/compat-httpie.py
