"""The installable package: `make dist`'s wheel holds the package with its templates, static files and
py.typed, declares lower-bounded dependencies, and works in a fresh virtualenv with nothing but those
installed, at a new `django-admin startproject` site configured as the README says (no line of this
repository's settings, webguard or issuer)."""

import json
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.conftest import services_required
from tests.servers import ROOT

pytestmark = pytest.mark.storage_independent

SITE_SETTINGS = """
INSTALLED_APPS += ["rest_framework", "sso_client"]
MIDDLEWARE += ["sso_client.middleware.SSOAuthenticationMiddleware"]
SSO_CLIENT = {"ISSUER": "https://sso.example.com", "AUDIENCE": "mysite"}
LOGIN_URL = "/sign-in/"
"""
SITE_URLS = """
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template import engines

PAGE = engines["django"].from_string("{{ request.user.username }} ({{ request.sso_user.roles|join:', ' }})")
urlpatterns += [path("hello/", login_required(lambda request: HttpResponse(PAGE.render({}, request))))]
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, env={"PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built as `make dist` builds it, from a copy (a build leaves build/ and egg-info behind)."""
    work = tmp_path_factory.mktemp("dist")
    source = work / "sso_client"
    shutil.copytree(ROOT / "sso_client", source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    built = run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(work), str(source), cwd=work
    )
    if built.returncode != 0 and not services_required() and "pypi" in built.stderr.lower():
        pytest.skip(f"building needs setuptools from PyPI: {built.stderr[-300:]}")
    assert built.returncode == 0, built.stderr
    return next(work.glob("sso_client-*.whl"))


def test_the_wheel_holds_the_package_and_declares_its_dependencies(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "sso_client/py.typed",
        "sso_client/middleware.py",
        "sso_client/management/commands/sso_check.py",
        "sso_client/templates/sso_client/kept_form.html",
        "sso_client/static/sso_client/renew.js",
        "sso_client/oidc_views.py",
        "sso_client/templates/sso_client/sign_in_failed.html",
    ):
        assert expected in names
    assert not [name for name in names if name.startswith(("issuer/", "webguard/", "settings/", "tests/"))]
    metadata_name = next(name for name in names if name.endswith(".dist-info/METADATA"))
    metadata = Parser().parsestr(zipfile.ZipFile(wheel).read(metadata_name).decode())
    requires = {re.split(r"[<>=!~; ]", line)[0].lower(): line for line in metadata.get_all("Requires-Dist")}
    assert set(requires) == {"django", "djangorestframework", "pyjwt", "cryptography", "requests", "prometheus-client"}
    assert all(">=" in line for line in requires.values())
    assert metadata["Version"]


# The newest releases pip picks, and the declared lower bounds themselves (so the bounds are true).
LOWEST = [
    "Django==4.2.*",
    "djangorestframework==3.15.*",
    "PyJWT==2.15.*",
    "cryptography==42.*",
    "requests==2.31.*",
    "prometheus-client==0.17.*",
]


def fresh_site(wheel: Path, work: Path, *pins: str) -> tuple[Path, Path]:
    """A fresh virtualenv with only the wheel (and its dependencies, `pins` pinning them) installed, and a new
    `django-admin startproject mysite` beside it: (the virtualenv, the project)."""
    venv = work / "venv"
    # Without a pip of its own (ensurepip costs 3 s a venv): this pip installs into it (`--python`).
    assert run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=work).returncode == 0
    installed = run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(venv / "bin/python"),
        "install",
        "--quiet",
        str(wheel),
        *pins,
        cwd=work,
    )
    if installed.returncode != 0 and not services_required():
        pytest.skip(f"installing the wheel's dependencies needs PyPI: {installed.stderr[-300:]}")
    assert installed.returncode == 0, installed.stderr
    site = work / "site"
    site.mkdir()
    assert run(str(venv / "bin/django-admin"), "startproject", "mysite", str(site), cwd=work).returncode == 0
    return venv, site


@pytest.mark.parametrize("pins", [[], LOWEST], ids=["newest", "lower-bounds"])
def test_a_fresh_startproject_site_signs_people_in_with_only_the_wheel_installed(wheel, tmp_path, pins):
    venv, site = fresh_site(wheel, tmp_path, *pins)
    with open(site / "mysite/settings.py", "a") as settings_file:
        settings_file.write(SITE_SETTINGS)
    with open(site / "mysite/urls.py", "a") as urls_file:
        urls_file.write(SITE_URLS)
    checked = run(str(venv / "bin/python"), "manage.py", "check", cwd=site)
    assert checked.returncode == 0, checked.stderr
    shutil.copy(Path(__file__).with_name("site_script.py"), site / "site_script.py")
    result = run(str(venv / "bin/python"), "site_script.py", cwd=site)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["sso_client_file"].startswith(str(venv))
    assert found["webguard_importable"] is False
    assert found["hello"] == "alice (editor)"
    assert found["hello_anonymous"] == [302, "/sign-in/?next=/hello/"]
    # The stateless user at the site's own admin: refused, never a 500.
    assert found["admin_stateless"] == 200
    assert found["admin_model_stateless"] == 403
    # Linked to a local user: the site's own admin and permissions work for it.
    assert found["hello_local"] == "alice (editor)"
    assert found["local_user_has_usable_password"] is False
    assert found["admin_model_local"] == 200
