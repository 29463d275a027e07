"""Replays seed 000 (shared/seeds/000_*.txt, a transcript of HTTPie calls against a Django SPA
back end) with the real `http` command against Gatehouse, in the transcript's order, with its
bodies and `Authorization: JWT` headers. Only the base URL and the tokens (which the
transcript copied from earlier answers) are substituted. TOTP codes come from pyotp, as an
authenticator app would make them.

Run through scripts/compat-httpie.sh (which starts a server). Exits non-zero at the first answer
that differs from what the transcript shows.
"""

import base64
import json
import os
import subprocess
import sys
import time

import pyotp

BASE = os.environ["GATEHOUSE_TEST_BASE"]
HTTP = os.path.join(os.path.dirname(sys.executable), "http")
last_step = {"value": -1}


def http(method, path, *items):
    """One `http` call; returns (status, parsed JSON body or None)."""
    command = [HTTP, "--ignore-stdin", "--print=hb", "--pretty=none", "--timeout=30", method, BASE + path, *items]
    shown = " ".join(command[5:]).replace(BASE, "")
    out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    status_line = out.stdout.split("\n", 1)[0]
    try:
        status = int(status_line.split()[1])
    except (IndexError, ValueError):
        sys.exit(f"{shown}: no HTTP answer ({out.stderr.strip()})")
    body_text = out.stdout.replace("\r\n", "\n").split("\n\n", 1)[1] if "\n\n" in out.stdout.replace("\r\n", "\n") else ""
    try:
        body = json.loads(body_text) if body_text.strip() else None
    except json.JSONDecodeError:
        body = body_text
    print(f"http {shown}\n> {status} {json.dumps(body)[:160]}")
    return status, body


def expect(condition, message):
    if not condition:
        sys.exit(f"MISMATCH: {message}")


def payload(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def token_of(status, body, what):
    expect(status == 200 and isinstance(body, dict) and "token" in body, f"{what} returns a token")
    return body["token"]


def next_code(url):
    """A code the server takes now: this step's, or the next one's if this step was used."""
    totp = pyotp.parse_uri(url)
    step = max(int(time.time()) // 30, last_step["value"] + 1)
    last_step["value"] = step
    return totp.at(step * 30)


# / Custom user models
status, body = http("POST", "/api/users/create/", "username=carmeella", "password=helloworld1")
expect(status == 400 and "email" in body, "creating a user without an email is refused, naming the field")
status, body = http("POST", "/api/users/create/", "email=carmeella@example.com", "password=helloworld1")
expect(status == 201 and body["email"] == "carmeella@example.com" and "id" in body, "> Success")

# / JWT login
token = token_of(*http("POST", "/api/jwt/create/", "email=carmeella@example.com", "password=helloworld1"), "jwt/create")
status, body = http("GET", "/api/me/", f"Authorization: JWT {token}")
expect(status == 200 and body["email"] == "carmeella@example.com", "> Returns info")

# / Custom paths
token = token_of(*http("POST", "/api/user/login/", "email=carmeella@example.com", "password=helloworld1"), "user/login")
status, body = http("GET", "/user/view/", f"Authorization: JWT {token}")
expect(status == 200 and body["email"] == "carmeella@example.com", "> Returns info")

# / JWT logout. The transcript's sections ran on fresh databases: replayed in one, creating
# carmeella again is a conflict. Its `sqlite3` look at the per-user secrets is replaced by what
# they are for: logging one user out everywhere leaves the other's tokens alone.
status, body = http("POST", "/api/user/create/", "email=carmeella@example.com", "password=helloworld1")
expect(status == 409 and "email" in body, "carmeella exists already")
status, body = http("POST", "/api/user/create/", "email=rezinomrah@example.com", "password=helloworld1")
expect(status == 201, "> Success")
other = token_of(*http("POST", "/api/user/login/", "email=rezinomrah@example.com", "password=helloworld1"), "login")
status, _ = http("POST", "/api/user/logout/all/", f"Authorization: JWT {token}")
expect(status == 200, "logout all")
expect(http("GET", "/api/user/view/", f"Authorization: JWT {token}")[0] == 401, "carmeella's token is dead")
expect(http("GET", "/api/user/view/", f"Authorization: JWT {other}")[0] == 200, "rezinomrah's token still works")

# / TOTP
token = token_of(*http("POST", "/api/user/login/", "email=carmeella@example.com", "password=helloworld1"), "login")
status, url = http("GET", "/api/totp/create/", f"Authorization: JWT {token}")
expect(status == 201 and isinstance(url, str) and url.startswith("otpauth://totp/"), "the otpauth URL as a string")
expect("carmeella%40example.com" in url and "secret=" in url, "the account is the email, with the secret")
status, body = http("POST", f"/api/totp/login/{next_code(url)}/", f"Authorization: JWT {token}")
expect(status == 201 and "token" in body, "the device is verified")

# / Custom JWT payload
token = token_of(*http("POST", "/api/user/login/", "email=carmeella@example.com", "password=helloworld1"), "login")
expect("otp_device_id" in payload(token) and payload(token)["otp_device_id"] is None, "otp_device_id: null")
status, body = http("GET", "/api/user/view/", f"Authorization: JWT {token}")
expect(status == 200 and body["email"] == "carmeella@example.com", "> Returns info")

# / Storing an OTP identifier in the JWT
token = token_of(*http("POST", "/api/user/login/", "email=carmeella@example.com", "password=helloworld1"), "login")
status, body = http("POST", f"/api/totp/login/{next_code(url)}/", f"Authorization: JWT {token}")
expect(status == 201 and isinstance(payload(body["token"])["otp_device_id"], int), "> ... OTP verification information")
claims = payload(body["token"])
for claim in ("user_id", "username", "email", "exp", "otp_device_id"):
    expect(claim in claims, f"the payload carries {claim}")

print("seed 000 replayed with HTTPie: every answer as the transcript shows")
