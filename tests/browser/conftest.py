"""Real-browser fixtures: the three sites under sso.example.test, orders.example.test and
products.example.test (gunicorn on loopback, one stack per module), and Debian's Chromium driven by
Playwright, with those names mapped to 127.0.0.1 inside the browser only."""

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.conftest import services_required
from tests.servers import Stack, running_stack

HOSTS = {"issuer": "sso.example.test", "orders": "orders.example.test", "products": "products.example.test"}
COOKIE_DOMAIN = ".example.test"
CHROMIUM_ARGS = [
    # The subdomain stacks' names, and the unrelated domains of the cross-domain stack (test_cross_domain.py).
    "--host-resolver-rules=MAP *.example.test 127.0.0.1, MAP shop.example.net 127.0.0.1, MAP blog.other.test 127.0.0.1, MAP mysite.example.org 127.0.0.1",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def chromium_path() -> str | None:
    """Debian's Chromium (`apt-get install chromium`) from PATH, or the executable CHROMIUM_PATH names."""
    return shutil.which(os.environ.get("CHROMIUM_PATH") or "chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium():
    executable = chromium_path()
    if executable is None:
        message = "Chromium is not installed (apt-get install chromium), so the browser tests cannot run"
        if services_required():
            pytest.fail(f"REQUIRE_SERVICES=1 but {message}")
        pytest.skip(f"{message}; set REQUIRE_SERVICES=1 to make this a failure")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, chromium) -> Iterator[Stack]:
    # Revocation reaches the relying apps within a second here, so sign-out is observed without waiting long.
    extra_env = {"SSO_COOKIE_DOMAIN": COOKIE_DOMAIN, "SSO_REVOCATION_REFRESH_SECONDS": "1"}
    with running_stack(tmp_path_factory.mktemp("browser-stack"), hosts=HOSTS, extra_env=extra_env) as stack:
        yield stack


def new_context(browser):
    """A fresh browser profile: no cookies carried from one scenario to the next."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def context(chromium, stack):
    context = new_context(chromium)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()
