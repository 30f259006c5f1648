"""Fixtures for real, certified OpenID Connect clients signing in through the issuer: an issuer under gunicorn
on loopback (one per module), Debian's Chromium, and client registration with `create_client` as a newcomer
would run it."""

import contextlib
import json
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser import conftest as browser
from tests.conftest import services_required
from tests.servers import DEMO_PASSWORD, Stack, prepare_stack

# The browser tests' Chromium (Debian's, through Playwright; it skips, or fails under REQUIRE_SERVICES=1,
# without it), whose resolver rule maps *.example.test to 127.0.0.1 inside the browser only.
chromium = browser.chromium

# The Apache-protected site's public name: another site than the issuer's (127.0.0.1), as a customer's site
# would be. Only the browser resolves it.
APACHE_HOST = "apache.example.test"


def unavailable(message: str) -> None:
    """Skip for want of a tool, or fail under REQUIRE_SERVICES=1 (CI installs every one of them)."""
    if services_required():
        pytest.fail(f"REQUIRE_SERVICES=1 but {message}")
    pytest.skip(f"{message}; set REQUIRE_SERVICES=1 to make this a failure")


@pytest.fixture(scope="module")
def issuer(tmp_path_factory, chromium) -> Iterator[Stack]:
    """The issuer alone (the clients under test stand in for the relying apps), on its public 127.0.0.1 URL:
    the clients reach it at the address the discovery document names, exactly as the browser does."""
    stack = prepare_stack(tmp_path_factory.mktemp("oidc-issuer"))
    try:
        stack.start("issuer")
        yield stack
    finally:
        stack.stop_all()


@pytest.fixture
def page(chromium, issuer):
    """A fresh browser profile per test: no cookies carried from one scenario to the next."""
    context = chromium.new_context()
    context.set_default_timeout(browser.TIMEOUT_MS)
    context.set_default_navigation_timeout(browser.TIMEOUT_MS)
    yield context.new_page()
    context.close()


def register_client(stack: Stack, name: str, *options: str, user: str = "bob") -> dict:
    """`manage.py create_client` as the README has a newcomer run it, giving `user` access to the new app.
    Returns the command's JSON ({"client_id", "client_secret", "audience"})."""
    try:
        return json.loads(stack.manage("issuer", "create_client", name, *options, "--user", user))
    except subprocess.CalledProcessError as e:
        raise AssertionError(f"create_client failed:\n{e.stderr}") from e


def user_subject(stack: Stack, username: str) -> str:
    """The `sub` the issuer gives this user (the primary key, as a string)."""
    code = (
        f"from django.contrib.auth import get_user_model\nprint(get_user_model().objects.get(username={username!r}).pk)"
    )
    # The last line: Django's shell may first say what it imported.
    return stack.manage("issuer", "shell", "-c", code).splitlines()[-1].strip()


def sign_in_at_issuer(page, stack: Stack, username: str) -> None:
    """The browser is at the issuer's login page (sent there by a client): sign in as a person would, and
    allow the client if the issuer asks for consent."""
    assert page.url.startswith(f"{stack.url['issuer']}/"), page.url
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    submit(page, "button[type=submit]")
    if page.url.startswith(f"{stack.url['issuer']}/") and page.locator("#consent-allow").count():
        submit(page, "#consent-allow")


def submit(page, selector: str) -> None:
    """Send a form and wait for where it leads. Chromium applies the page's Content-Security-Policy
    form-action to every redirect that follows the form, and a refused one leaves only net::ERR_ABORTED:
    say which policy refused which address instead."""
    refusals: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            refusals.append(message.text)

    page.on("console", on_console)
    try:
        with page.expect_navigation():
            page.click(selector)
    except PlaywrightError as e:
        # Chromium may report the refusal just after the aborted navigation.
        if not refusals:
            with contextlib.suppress(PlaywrightError):
                page.wait_for_event("console", lambda message: "Content Security Policy" in message.text)
        if refusals:
            raise AssertionError(f"the issuer's page refused to send the browser on: {refusals}") from e
        raise
    finally:
        page.remove_listener("console", on_console)
