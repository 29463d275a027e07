"""Writes the Django password-hash test vectors Gatehouse's tests check against
(core/tests/fixtures/django_hashes.json), made by Django's own hashers.

    python3 -m venv .venv-django
    .venv-django/bin/pip install -r scripts/django-requirements.txt
    .venv-django/bin/python scripts/django-hash-vectors.py > core/tests/fixtures/django_hashes.json

Each hasher is used once with Django's default parameters, then with lighter ones (Django
verifies whatever parameters a hash names, and old installations have smaller ones).
"""

import json

from django.conf import settings

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
    ]
)

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import (  # noqa: E402
    Argon2PasswordHasher,
    BCryptPasswordHasher,
    BCryptSHA256PasswordHasher,
    PBKDF2PasswordHasher,
    check_password,
)

PASSWORDS = [
    "correct horse battery",
    "pässwörd with ünïcode ✓",
    # Longer than bcrypt's 72 bytes: bcrypt_sha256 exists for exactly this.
    "a very long passphrase " * 5,
]


class LightArgon2(Argon2PasswordHasher):
    """Django's argon2 hasher with lighter parameters (the test runs stay fast)."""
    memory_cost = 1024
    parallelism = 2


class LightBCryptSHA256(BCryptSHA256PasswordHasher):
    rounds = 4


vectors = []
for index, password in enumerate(PASSWORDS):
    # Django's defaults once; lighter parameters (same code, other numbers) for the rest.
    hashers = (
        [(PBKDF2PasswordHasher(), {}), (Argon2PasswordHasher(), {}), (BCryptSHA256PasswordHasher(), {})]
        if index == 0
        else [(PBKDF2PasswordHasher(), {"iterations": 20000}), (LightArgon2(), {}), (LightBCryptSHA256(), {})]
    )
    for hasher, extra in hashers:
        encoded = hasher.encode(password, hasher.salt(), **extra)
        assert check_password(password, encoded)
        vectors.append({"algorithm": hasher.algorithm, "password": password, "encoded": encoded})
# Plain bcrypt (truncates at 72 bytes, so only a short password).
bcrypt = BCryptPasswordHasher()
vectors.append({"algorithm": bcrypt.algorithm, "password": PASSWORDS[0],
                "encoded": bcrypt.encode(PASSWORDS[0], bcrypt.salt())})

print(json.dumps({"django": django.get_version(), "vectors": vectors}, indent=2, ensure_ascii=False))
