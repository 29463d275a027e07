#!/usr/bin/env bash
# API contract tests: schemathesis (pinned in scripts/contract-requirements.txt, installed into
# .venv-contract/ by `scripts/setup.sh --test`) generates requests from the live server's own
# OpenAPI documents (`/api/v1/openapi.json`, and seed 003's `/accounts/api/spectacular/`) and
# checks every answer against them.
#
#   scripts/contract-test.sh BASE_URL        e.g. http://127.0.0.1:3000
#
# The server at BASE_URL must be a throwaway instance started with
# GATEHOUSE_REQUIRE_EMAIL_VERIFICATION=false (this script registers users and logs them in;
# it cannot click emailed links). If it is not, set CONTRACT_OUTBOX_DIR to the server's
# <data dir>/outbox and the confirmation link is read from there instead.
#
# Checks: every one schemathesis has (`--checks all`). On every response: no 5xx
# (not_a_server_error); the status code is documented (status_code_conformance); the
# Content-Type is the documented one (content_type_conformance); documented required headers
# are present and valid (response_headers_conformance); the body matches the documented schema
# (response_schema_conformance). And the document is exact about requests: a request it allows
# is not refused with 400/422 (positive_data_acceptance), a request it forbids (a missing
# required field, a wrong type, a number out of range, a property it does not allow …) is
# refused (negative_data_rejection), and so on for the authentication and header checks.
# scripts/contract-schemathesis.toml names the few operations where a well-formed request can
# still be refused with 400 for a reason no schema can state (a wrong password, a stale link, a
# weak new password), and why.
# Positive and negative (schema-violating) requests are both generated, so error statuses
# (400, 401, 413, 415, 429 …) must be documented where they can happen.
#
# Environment:
#   CONTRACT_MAX_EXAMPLES  test cases per operation and phase (default 30)
#   CONTRACT_TIMEOUT       seconds for all schemathesis runs together (default 600); keep it
#                          below the server's access token lifetime (GATEHOUSE_ACCESS_TOKEN_TTL)
#   CONTRACT_SEED          generation seed (default 20261124): the same seed, same requests
#   CONTRACT_REPORT_DIR    where the JUnit reports go (default: a new directory under $TMPDIR)
#   CONTRACT_OUTBOX_DIR    see above
#   CONTRACT_DATA_DIR      the server's data directory: when set, a superuser is created there
#                          with `gatehouse createsuperuser` (target/debug/gatehouse, or
#                          CONTRACT_GATEHOUSE), given two-factor authentication through the API,
#                          and the API is also run as that superuser and as a staff member it
#                          creates (scripts/contract-server.sh sets it)
#
# Exit status: 0 when every run passed, non-zero otherwise (1 failures, 124 time bound hit,
# 2 usage or setup problems).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

if [[ $# -ne 1 || "$1" != http*://* ]]; then
  echo "usage: $0 BASE_URL   (e.g. http://127.0.0.1:3000)" >&2
  exit 2
fi
base=${1%/}
schema_url="$base/api/v1/openapi.json"
# Seed 003's own document (drf-spectacular style, OpenAPI 3.0), when that surface is served.
accounts_api_url="$base/accounts/api/spectacular/?format=json"

st="$repo/.venv-contract/bin/schemathesis"
pinned=$(sed -n 's/^schemathesis==\([^[:space:]]*\).*/\1/p' scripts/contract-requirements.txt)
installed=$("$repo/.venv-contract/bin/python" -c 'from importlib.metadata import version; print(version("schemathesis"))' 2>/dev/null || true)
if [[ "$installed" != "$pinned" ]]; then
  echo "contract-test: schemathesis $pinned is not installed in .venv-contract/ (found '${installed:-nothing}'); run scripts/setup.sh --test" >&2
  exit 2
fi

# The documents must be valid (3.1 for /api/v1, 3.0 for seed 003) before they are worth
# fuzzing against. Prints "yes" when seed 003's document is served.
accounts_api=$("$repo/.venv-contract/bin/python" - "$schema_url" "$accounts_api_url" <<'PY'
import json, sys, urllib.error, urllib.request
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

def check(url, version, validator):
    with urllib.request.urlopen(url, timeout=30) as response:
        document = json.load(response)
    if not str(document.get("openapi", "")).startswith(version):
        sys.exit(f"contract-test: {url} is OpenAPI {document.get('openapi')}, not {version}")
    validate(document, cls=validator)
    print(f"contract-test: {url} is valid OpenAPI {document['openapi']} ({len(document['paths'])} paths)",
          file=sys.stderr)

check(sys.argv[1], "3.1", OpenAPIV31SpecValidator)
try:
    check(sys.argv[2], "3.0", OpenAPIV30SpecValidator)
    print("yes")
except urllib.error.HTTPError as error:
    if error.code != 404:
        raise
    print(f"contract-test: note: {sys.argv[2]} is not served (GATEHOUSE_COMPAT_ACCOUNTS_API=false)", file=sys.stderr)
    print("no")
PY
)

max_examples=${CONTRACT_MAX_EXAMPLES:-30}
time_budget=${CONTRACT_TIMEOUT:-600}
seed=${CONTRACT_SEED:-20261124}
report_dir=${CONTRACT_REPORT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-contract.XXXXXX")}
mkdir -p "$report_dir"
report_dir=$(cd "$report_dir" && pwd)

# Operations that end the caller's session (or every session, or the account): run with the
# main user's token they would kill it halfway and turn every later authenticated request into
# a 401. Schemathesis (4.x) can exclude operations by name ("METHOD /path") but cannot hand out
# a fresh token per operation, so each of these runs LAST, separately, as its own user with its
# own token (`--include-name`), and the main run skips them (`--exclude-name`). Own users also
# keep them apart: revoking a session by id or logging out everywhere touches only that user.
# After the first call that does log out, the rest of that operation's cases get 401, which is
# documented, so they still check the error contract.
# Patterns match "METHOD path" for the paths as written in the document, with or without the
# trailing slash and whatever base path the document declares.
session_ending='
POST /auth/logout
GET /auth/logout_all
POST /auth/logout_all
POST /auth/password/change
DELETE /account
DELETE /account/sessions/{}
'

# Operations of superusers that can end any account's sessions or take it away (including the
# caller's own, and the other runs' users): with a superuser, each runs at the very end, as its
# own superuser, like the session-ending ones, least destructive first. A generated id can still
# name the user of a later run (ids are small numbers); that run then checks the 401 contract.
admin_ending='
PUT /account/management/{}/update
PATCH /account/management/{}/update
DELETE /account/management/{}/sessions
DELETE /account/management/{}/delete
'

# Every user and token is made before any generated request runs: the generated logins fail
# by the dozen and, from one IP, soon get 429 until the throttle's delay has passed, which
# would also refuse our own logins later on.
# Output: the document's operations found session-ending, one "<name>\t<token>" line each, and
# a last line "-\t<token>" for the main user.
accounts=$(CONTRACT_SESSION_ENDING="$session_ending" CONTRACT_ADMIN_ENDING="$admin_ending" \
  CONTRACT_GATEHOUSE="${CONTRACT_GATEHOUSE:-$repo/target/debug/gatehouse}" \
  "$repo/.venv-contract/bin/python" - "$base" "$schema_url" <<'PY'
import email, json, os, re, secrets, subprocess, sys, time, urllib.error, urllib.request
import pyotp
from email import policy
from urllib.parse import parse_qs, urlsplit

base, schema_url = sys.argv[1], sys.argv[2]
run = f"{int(time.time())}{secrets.token_hex(3)}"

def call(method, path, body=None, token=None):
    request = urllib.request.Request(base + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", "accept": "application/json",
                 **({"authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()

def die(message):
    print(f"contract-test: {message}", file=sys.stderr)
    sys.exit(2)

try:
    with urllib.request.urlopen(schema_url, timeout=30) as response:
        document = json.load(response)
except Exception as error:  # noqa: BLE001 - any failure here means no test run
    die(f"cannot read the OpenAPI document at {schema_url}: {error}")

def pattern(line):
    method, path = line.split(" ", 1)
    path = re.escape(path.rstrip("/")).replace(r"\{\}", r"\{[^/}]+\}")
    return re.compile(rf"{method} (/.*)?{path}/?")

names = [f"{method.upper()} {path}" for path, item in document.get("paths", {}).items()
         for method in item if method in ("get", "put", "post", "delete", "patch")]

def operations(variable):
    wanted = {line: pattern(line) for line in os.environ[variable].split("\n") if line.strip()}
    for line, p in wanted.items():
        if not any(p.fullmatch(name) for name in names):
            print(f"contract-test: note: the document has no operation {line}", file=sys.stderr)
    # In the order listed (the later ones may end the earlier ones' accounts).
    return [name for p in wanted.values() for name in names if p.fullmatch(name)]

session_ending = operations("CONTRACT_SESSION_ENDING")
admin_ending = operations("CONTRACT_ADMIN_ENDING")

def verify_from_outbox(address):
    outbox = os.environ.get("CONTRACT_OUTBOX_DIR")
    if not outbox:
        die("login answered 403 (email not verified): start the server with "
            "GATEHOUSE_REQUIRE_EMAIL_VERIFICATION=false, or set CONTRACT_OUTBOX_DIR")
    for _ in range(100):
        for name in sorted(os.listdir(outbox), reverse=True) if os.path.isdir(outbox) else []:
            if not name.endswith(".eml"):
                continue
            with open(os.path.join(outbox, name), "rb") as file:
                mail = email.message_from_binary_file(file, policy=policy.default)
            if address not in str(mail["To"]):
                continue
            text = mail.get_body(("plain", "html")).get_content()
            query = parse_qs(urlsplit(re.search(r"https?://\S+", text).group(0)).query)
            status, body = call("POST", "/api/v1/auth/email/verify/",
                                {"uid": query["uid"][0], "token": query["token"][0]})
            if status != 200:
                die(f"verify {address}: {status} {body[:300]!r}")
            return
        time.sleep(0.1)
    die(f"no confirmation mail to {address} in {outbox}")

def user_token(label):
    address = f"contract-{label}-{run}@example.com"
    password = "Ct-" + secrets.token_urlsafe(18)
    status, body = call("POST", "/api/v1/auth/register/", {"email": address, "password": password})
    if status != 201:
        die(f"register {address}: {status} {body[:300]!r}")
    for attempt in (1, 2):
        status, body = call("POST", "/api/v1/auth/token/", {"email": address, "password": password})
        if status == 403 and attempt == 1:
            verify_from_outbox(address)
            continue
        break
    if status != 200:
        die(f"token for {address}: {status} {body[:300]!r}")
    return json.loads(body)["access"]

def superuser_token(label):
    """A superuser made with the CLI, logged in, with a confirmed TOTP device: an aal2 token."""
    address = f"contract-{label}-{run}@example.com"
    password = "Ct-" + secrets.token_urlsafe(18)
    environment = {**os.environ, "GATEHOUSE_DATA_DIR": os.environ["CONTRACT_DATA_DIR"], "GATEHOUSE_LOG": "warn"}
    made = subprocess.run([os.environ["CONTRACT_GATEHOUSE"], "createsuperuser", "--email", address,
                           "--password", password, "--no-input"], env=environment, capture_output=True, text=True)
    if made.returncode != 0:
        die(f"createsuperuser {address}: {made.stderr.strip()[:300]}")
    status, body = call("POST", "/api/v1/auth/token/", {"email": address, "password": password})
    if status != 200:
        die(f"token for {address}: {status} {body[:300]!r}")
    token = json.loads(body)["access"]
    status, body = call("POST", "/api/v1/mfa/totp/", {}, token)
    if status != 200:
        die(f"TOTP enrolment of {address}: {status} {body[:300]!r}")
    code = pyotp.parse_uri(json.loads(body)["otpauth_url"]).now()
    status, body = call("POST", "/api/v1/mfa/totp/verify/", {"code": code}, token)
    if status != 200 or json.loads(body).get("aal") != "aal2":
        die(f"TOTP confirmation of {address}: {status} {body[:300]!r}")
    return json.loads(body)["access"]

def staff_token(superuser):
    address = f"contract-staff-{run}@example.com"
    password = "Ct-" + secrets.token_urlsafe(18)
    status, body = call("POST", "/api/v1/account/management/create/",
                        {"email": address, "password": password, "is_staff": True}, superuser)
    if status != 201:
        die(f"creating the staff member {address}: {status} {body[:300]!r}")
    status, body = call("POST", "/api/v1/auth/token/", {"email": address, "password": password})
    if status != 200:
        die(f"token for {address}: {status} {body[:300]!r}")
    return json.loads(body)["access"]

# Lines: "<kind>\t<operation or ->\t<token>"; kind "user", "staff" or "superuser".
for index, name in enumerate(session_ending):
    print(f"user\t{name}\t{user_token(f'ending{index}')}")
print(f"user\t-\t{user_token('main')}")
if os.environ.get("CONTRACT_DATA_DIR"):
    superuser = superuser_token("superuser")
    print(f"staff\t-\t{staff_token(superuser)}")
    print(f"superuser\t-\t{superuser}")
    for index, name in enumerate(session_ending + admin_ending):
        print(f"superuser\t{name}\t{superuser_token(f'superuser-ending{index}')}")
PY
)

common=(
  --checks all
  --max-examples "$max_examples"
  --seed "$seed"
  --workers 1
  --request-timeout 30
  --generation-database none # no .hypothesis/ directory anywhere
  --report junit
)
# Not --max-time: in schemathesis 4 it is a budget the run keeps fuzzing until it has spent,
# not a cap. The bound is `timeout` around each run, sharing CONTRACT_TIMEOUT.

main_token=""
staff_token=""
superuser_token=""
excludes=()
superuser_excludes=()
ending=()
superuser_ending=()
while IFS=$'\t' read -r kind name token; do
  case "$kind/$name" in
    user/-) main_token=$token ;;
    staff/-) staff_token=$token ;;
    superuser/-) superuser_token=$token ;;
    user/*)
      excludes+=(--exclude-name "$name")
      ending+=("$name"$'\t'"$token")
      ;;
    superuser/*)
      superuser_excludes+=(--exclude-name "$name")
      superuser_ending+=("$name"$'\t'"$token")
      ;;
  esac
done <<<"$accounts"
[[ -n "$main_token" ]] || { echo "contract-test: no token for the main user" >&2; exit 2; }

started=$SECONDS
status=0
run_schemathesis() { # <report name> <document URL> <token> <filter args...>
  local report=$1 document=$2 token=$3 left=$((time_budget - (SECONDS - started))) code=0
  shift 3
  if ((left <= 0)); then
    echo "contract-test: time bound of ${time_budget}s used up before $report" >&2
    status=124
    return
  fi
  # Run from the report directory so nothing schemathesis writes lands in the repository.
  (cd "$report_dir" && timeout --kill-after=10 "$left" "$st" --config-file "$repo/scripts/contract-schemathesis.toml" \
    run "$document" "${common[@]}" \
    --report-junit-path "$report_dir/$report.xml" \
    -H "Authorization: Bearer $token" "$@") || code=$?
  if ((code == 124 || code == 137)); then
    echo "contract-test: $report stopped by the time bound (${time_budget}s in all)" >&2
    status=124
  elif ((code != 0)); then
    echo "contract-test: $report failed (exit $code)" >&2
    if ((status == 0)); then status=1; fi
  fi
}

echo "==> every operation except the session-ending ones"
run_schemathesis main "$schema_url" "$main_token" "${excludes[@]}"

if [[ "$accounts_api" == yes ]]; then
  # The same accounts: the main user's token works on seed 003's surface. None of its
  # operations ends the caller's session without a password or link schemathesis cannot know.
  echo "==> seed 003 (/accounts/api/...), its own document"
  run_schemathesis accounts_api "$accounts_api_url" "$main_token"
fi

if [[ -n "$staff_token" ]]; then
  # Staff list and read users and everyone's history; what only superusers may do answers 403.
  echo "==> as a staff member, every operation except the session-ending ones"
  run_schemathesis staff "$schema_url" "$staff_token" "${excludes[@]}"
  echo "==> as a superuser with two-factor authentication (aal2), the same, and none that ends accounts"
  run_schemathesis superuser "$schema_url" "$superuser_token" "${superuser_excludes[@]}"
fi

for entry in "${ending[@]}"; do
  name=${entry%%$'\t'*}
  echo "==> $name (own user, last)"
  run_schemathesis "$(printf '%s' "$name" | tr -c 'A-Za-z0-9' '_')" "$schema_url" "${entry#*$'\t'}" --include-name "$name"
done

# Last of all: what a superuser can end, each as its own superuser (they may end each other).
for entry in "${superuser_ending[@]}"; do
  name=${entry%%$'\t'*}
  echo "==> $name (own superuser, last)"
  run_schemathesis "superuser_$(printf '%s' "$name" | tr -c 'A-Za-z0-9' '_')" "$schema_url" "${entry#*$'\t'}" \
    --include-name "$name"
done

echo "schemathesis: $((SECONDS - started)) s"
echo "JUnit reports: $report_dir"
exit "$status"
