"""The README's path on a laptop: every site on `localhost` (different ports, no SSO_COOKIE_DOMAIN), where the
host-only access cookie reaches all three because browsers share cookies across ports."""

from collections.abc import Iterator

import pytest

from tests.servers import DEMO_PASSWORD, Stack, running_stack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack(tmp_path_factory, chromium) -> Iterator[Stack]:
    hosts = dict.fromkeys(("issuer", "orders", "products"), "localhost")
    with running_stack(tmp_path_factory.mktemp("localhost-stack"), hosts=hosts) as stack:
        yield stack


def test_a_newcomer_signs_in_once_and_uses_both_browsable_apis(page, context, stack):
    orders = f"{stack.url['orders']}/api/orders/"
    page.goto(orders)
    assert page.url.startswith(f"{stack.url['issuer']}/login/?next=")
    page.fill("#id_username", "bob")
    page.fill("#id_password", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == orders
    assert page.inner_text("#sso-username") == "bob"

    form = page.locator("#post-object-form form")
    form.locator("input[name=sku]").fill("mug-blue")
    form.locator("input[name=quantity]").fill("2")
    with page.expect_navigation():
        form.locator("button", has_text="POST").click()
    assert "HTTP 201 Created" in page.inner_text(".response-info")

    page.goto(f"{stack.url['products']}/api/products/")
    assert page.url == f"{stack.url['products']}/api/products/"
    assert page.inner_text("#sso-username") == "bob"

    access = next(cookie for cookie in context.cookies() if cookie["name"] == "sso_access")
    assert access["domain"] == "localhost", "host-only"
