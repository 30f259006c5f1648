"""The integrator's path, end to end: the wheel `make dist` builds, installed in a fresh virtualenv into a new
`django-admin startproject` site outside this repository, configured with the README's settings, registered
at the issuer with `create_client` alone, served on a domain unrelated to the issuer's (mysite.example.org,
against sso.example.test). In Chromium a person signs in there through the issuer; a plain Django view behind
`login_required` shows who; signing out at the issuer signs the site out over the back channel, and a copy of
the site's access token stops working within the revocation interval."""

import json
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from tests.servers import DEMO_PASSWORD, Stack, free_port, running_stack, stop_process, wait_for_port
from tests.sso_client.test_package import fresh_site, run, wheel  # noqa: F401  (the wheel fixture)

pytestmark = pytest.mark.browser

HOSTS = {"issuer": "sso.example.test", "orders": "shop.example.net", "products": "blog.other.test"}
SITE_HOST = "mysite.example.org"
DEADLINE_SECONDS = 20

# What the README's "Add your own Django site" has a developer add, with this test's addresses filled in.
SITE_SETTINGS = """
INSTALLED_APPS += ["rest_framework", "sso_client"]
MIDDLEWARE += ["sso_client.middleware.SSOAuthenticationMiddleware"]
ALLOWED_HOSTS = [{host!r}, "127.0.0.1"]
SSO_CLIENT = {{
    "ISSUER": {issuer!r},
    "ISSUER_INTERNAL_URL": {issuer_internal!r},
    "AUDIENCE": "mysite",
    "MODE": "oidc",
    "CLIENT_ID": {client_id!r},
    "CLIENT_SECRET": {client_secret!r},
    "REVOCATION_REFRESH_SECONDS": 1,
}}
LOGIN_URL = "/sso/login/"
"""
SITE_URLS = """
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import include

urlpatterns += [
    path("", include("sso_client.urls")),
    path("hello/", login_required(lambda request: HttpResponse(f"<p id=who>{request.user.username}</p>"))),
]
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory, chromium) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("own-site"), hosts=HOSTS) as stack:
        yield stack


@pytest.fixture(scope="module")
def site(stack, wheel, tmp_path_factory) -> Iterator[str]:  # noqa: F811
    """The new site, running on loopback (runserver, as a developer would), stopped by its process id."""
    work = tmp_path_factory.mktemp("own-site-project")
    venv, project = fresh_site(wheel, work)

    port = free_port()
    url = f"http://{SITE_HOST}:{port}"
    registered = json.loads(
        stack.manage(
            "issuer",
            "create_client",
            "My site",
            "--audience",
            "mysite",
            "--redirect-uri",
            f"{url}/sso/callback/",
            "--post-logout-redirect-uri",
            f"{url}/",
            # The issuer's server reaches the site where it listens, as over a private network in production.
            "--backchannel-logout-uri",
            f"http://127.0.0.1:{port}/sso/backchannel-logout/",
            "--user",
            "bob",
        )
    )
    with open(project / "mysite/settings.py", "a") as settings_file:
        settings_file.write(
            SITE_SETTINGS.format(
                host=SITE_HOST,
                issuer=stack.url["issuer"],
                issuer_internal=stack.internal["issuer"],
                client_id=registered["client_id"],
                client_secret=registered["client_secret"],
            )
        )
    with open(project / "mysite/urls.py", "a") as urls_file:
        urls_file.write(SITE_URLS)
    python = str(venv / "bin/python")
    for command in (["check"], ["migrate", "--verbosity", "0"], ["sso_check", "--site-url", url]):
        result = run(python, "manage.py", *command, cwd=project)
        assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    log = open(work / "runserver.log", "ab")
    process = subprocess.Popen(
        [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=project,
        env={"PATH": "/usr/bin:/bin"},
        stdout=log,
        stderr=log,
    )
    try:
        wait_for_port(port, process)
        yield url
    finally:
        stop_process(process)
        log.close()


def whoami_status(site: str, token: str) -> int:
    internal = site.replace(SITE_HOST, "127.0.0.1")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return requests.get(f"{internal}/api/whoami/", headers=headers, timeout=10).status_code


def test_a_new_site_on_another_domain_signs_in_and_out_through_the_issuer(page, context, stack, site):
    page.goto(f"{site}/hello/")
    assert urlsplit(page.url).netloc == urlsplit(stack.url["issuer"]).netloc
    assert urlsplit(page.url).path == "/login/"
    page.fill("#id_username", "bob")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    # A client that is not first-party asks the person once.
    page.wait_for_selector("#consent-allow")
    with page.expect_navigation(url=f"{site}/hello/"):
        page.click("#consent-allow")
    assert page.inner_text("#who") == "bob"

    cookies = {cookie["name"]: cookie for cookie in context.cookies(site)}
    assert cookies["sso_access"]["domain"] == SITE_HOST and cookies["sso_access"]["httpOnly"]
    copy = cookies["sso_access"]["value"]
    assert whoami_status(site, copy) == 200

    # Sign out at the issuer, as a person would on its own sign-out page.
    page.goto(f"{stack.url['issuer']}/logout/")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.inner_text("#signed-out") == "You are signed out"

    # The copy stops working within the revocation interval (the back channel, or the revocation list).
    deadline = time.monotonic() + DEADLINE_SECONDS
    while whoami_status(site, copy) != 401 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert whoami_status(site, copy) == 401

    # And the site's page, whose access cookie has not expired, asks to sign in again.
    page.goto(f"{site}/hello/")
    assert urlsplit(page.url).netloc == urlsplit(stack.url["issuer"]).netloc
    assert urlsplit(page.url).path == "/login/"
