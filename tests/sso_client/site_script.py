"""Run inside a fresh virtualenv at a new `startproject` site (tests/sso_client/test_package.py), with only
the sso_client wheel and its declared dependencies installed: signs requests in with sso_client.testing and
prints what the site answered, as JSON."""

import json
import os
import sys

import django

os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

import sso_client  # noqa: E402
from sso_client.testing import LocalIssuer  # noqa: E402

setup_test_environment()
call_command("migrate", verbosity=0)
found: dict = {"sso_client_file": sso_client.__file__}
try:
    import webguard  # noqa: F401

    found["webguard_importable"] = True
except ImportError:
    found["webguard_importable"] = False

issuer = LocalIssuer(issuer=settings.SSO_CLIENT["ISSUER"])
with issuer.installed():
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {issuer.mint(username='alice', roles=['editor'], staff=True)}"}
    found["hello"] = Client().get("/hello/", **bearer).content.decode()
    anonymous = Client().get("/hello/")
    found["hello_anonymous"] = [anonymous.status_code, anonymous.get("Location", "")]
    found["admin_stateless"] = Client().get("/admin/", **bearer).status_code
    found["admin_model_stateless"] = Client().get("/admin/auth/user/", **bearer).status_code
    local = {**settings.SSO_CLIENT, "USER_BACKEND": "sso_client.backends.LocalUserBackend"}
    with override_settings(SSO_CLIENT=local):
        found["hello_local"] = Client().get("/hello/", **bearer).content.decode()
        user = get_user_model().objects.get(username="alice")
        found["local_user_has_usable_password"] = user.has_usable_password()
        user.is_staff = user.is_superuser = True
        user.save()
        found["admin_model_local"] = Client().get("/admin/auth/user/", **bearer).status_code
json.dump(found, sys.stdout)
