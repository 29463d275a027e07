"""Writes the sample `manage.py dumpdata` that `gatehouse import-django` is tested with
(server/tests/fixtures/django_dump.json), made by Django itself from a throwaway database.

    .venv-django/bin/python scripts/django-sample-dump.py > server/tests/fixtures/django_dump.json

(see scripts/django-hash-vectors.py for the virtualenv). Every user's password is
"correct horse battery"; hashes use Django's formats with light parameters so tests stay fast.
"""

import io
import sys

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, BCryptSHA256PasswordHasher, PBKDF2PasswordHasher


class LightPBKDF2(PBKDF2PasswordHasher):
    iterations = 20000


class LightArgon2(Argon2PasswordHasher):
    memory_cost = 1024
    parallelism = 2


class LightBCryptSHA256(BCryptSHA256PasswordHasher):
    rounds = 4


settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    PASSWORD_HASHERS=["__main__.LightPBKDF2", "__main__.LightArgon2", "__main__.LightBCryptSHA256"],
    USE_TZ=True,
)

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0)
PASSWORD = "correct horse battery"

admin = User.objects.create_superuser("admin", "admin@example.com", PASSWORD, first_name="Ada", last_name="Admin")
User.objects.create_user("staffer", "Staff@Example.com", PASSWORD, is_staff=True, first_name="Sam")
plain = User.objects.create_user("plain", "plain@example.com", first_name="Zoë", last_name="Ünïcode")
plain.password = make_password(PASSWORD, hasher="argon2")
plain.save()
legacy = User.objects.create_user("legacy", "legacy@example.com")
legacy.password = make_password(PASSWORD, hasher="bcrypt_sha256")
legacy.save()
User.objects.create_user("gone", "gone@example.com", PASSWORD, is_active=False)
# Email as username: Gatehouse keeps no username for it (the email logs in).
User.objects.create_user("mail@example.com", "mail@example.com", PASSWORD)
# No email: Gatehouse accounts need one, so the import skips it (and says so).
User.objects.create_user("noemail", "", PASSWORD)
# Never set a password: Django's unusable password ("!…") never matches.
User.objects.create_user("unusable", "unusable@example.com")
Group.objects.create(name="editors").user_set.add(admin)

out = io.StringIO()
call_command("dumpdata", "auth.user", "auth.group", indent=2, stdout=out)
sys.stdout.write(out.getvalue())
