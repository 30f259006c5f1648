"""The relying apps' pages in Chromium, with access tokens that live 20 seconds (and no leeway), so expiry
happens during a test: the page renews the cookie before it expires, a form posted with an expired (or
already dropped) cookie is kept and sent again without a second password prompt, carol edits a product
through the browsable API's form, the bar leads to the issuer, the other app and sign-out, the script page
says who is refused where, no page load asks for a missing favicon, and nothing is cut off on a phone."""

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import pytest
import requests

from tests.servers import Stack, running_stack

from .conftest import COOKIE_DOMAIN, HOSTS, TIMEOUT_MS
from .test_browser_sso import bearer, cookies_by_name, expired_copy, orders_of, requests_to, sign_in

pytestmark = pytest.mark.browser

ACCESS_SECONDS = 20
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, chromium) -> Iterator[Stack]:
    extra_env = {
        "SSO_COOKIE_DOMAIN": COOKIE_DOMAIN,
        "SSO_REVOCATION_REFRESH_SECONDS": "1",
        "SSO_ACCESS_TOKEN_SECONDS": str(ACCESS_SECONDS),
        "SSO_LEEWAY_SECONDS": "0",  # an expired token is refused at once, not 30 s later
    }
    with running_stack(tmp_path_factory.mktemp("relying-stack"), hosts=HOSTS, extra_env=extra_env) as stack:
        yield stack


def fill_order_form(page, sku: str, quantity: int):
    form = page.locator("#post-object-form form")
    form.locator("input[name=sku]").fill(sku)
    form.locator("input[name=quantity]").fill(str(quantity))
    return form


def access_claims(context) -> dict:
    return jwt.decode(cookies_by_name(context)["sso_access"]["value"], options={"verify_signature": False})


# ---- work is not lost when the access cookie expires -------------------------------------------------


def test_the_page_renews_the_cookie_before_it_expires_so_the_form_still_posts(page, context, stack):
    before = len(orders_of(stack, "bob"))
    sign_in(page, stack, "bob")
    page.goto(f"{stack.url['orders']}/api/orders/")
    first = access_claims(context)
    to_issuer = requests_to(page, stack.url["issuer"])
    form = fill_order_form(page, "mug-blue", 2)

    # renew.js renews when a fifth of the lifetime is left: 16 s into the 20.
    with page.expect_response(f"{stack.url['issuer']}/session/token/", timeout=(ACCESS_SECONDS + 5) * 1000) as got:
        pass
    assert got.value.status == 200
    renewed = access_claims(context)
    assert renewed["exp"] > first["exp"] and renewed["sid"] == first["sid"]
    # Past the first cookie's expiry, the filled form is still on the page and posts as it is.
    page.wait_for_function(f"() => Date.now() > {(first['exp'] + 1) * 1000}", timeout=(ACCESS_SECONDS + 5) * 1000)
    assert form.locator("input[name=sku]").input_value() == "mug-blue"
    with page.expect_navigation():
        form.locator("button", has_text="POST").click()
    assert "HTTP 201 Created" in page.inner_text(".response-info")
    assert len(orders_of(stack, "bob")) == before + 1
    assert {urlsplit(r.url).path for r in to_issuer} == {"/session/token/"}, "no login page, no redirect"


@pytest.mark.parametrize("cookie", ["expired", "dropped"])
def test_a_form_posted_with_an_expired_cookie_is_kept_and_sent_again(page, context, stack, cookie):
    before = len(orders_of(stack, "bob"))
    sign_in(page, stack, "bob")
    page.goto(f"{stack.url['orders']}/api/orders/")
    form = fill_order_form(page, "sticker-pack", 3)
    # The renewal moment passed unnoticed (a laptop asleep): the cookie expired, or the browser dropped it.
    access = cookies_by_name(context)["sso_access"]
    context.clear_cookies(name="sso_access")
    if cookie == "expired":
        expired = expired_copy(stack, access["value"])
        context.add_cookies([{**access, "value": expired, "expires": time.time() + 300}])
    to_issuer = requests_to(page, stack.url["issuer"])
    orders_api = f"{stack.url['orders']}/api/orders/"
    posts = []
    page.on(
        "response", lambda r: posts.append(r.status) if r.url == orders_api and r.request.method == "POST" else None
    )

    form.locator("button", has_text="POST").click()
    page.locator(".response-info").wait_for()
    assert "HTTP 201 Created" in page.inner_text(".response-info")
    assert posts == [401, 201], "kept once (401), then sent again and placed"
    mine = orders_of(stack, "bob")
    assert len(mine) == before + 1
    assert mine[0]["lines"][0]["sku"] == "sticker-pack" and mine[0]["lines"][0]["quantity"] == 3
    assert "/login/" not in {urlsplit(r.url).path for r in to_issuer}, "no second password prompt"
    assert access_claims(context)["exp"] > time.time()


def test_a_kept_form_offers_sign_in_when_the_session_ended_too(page, context, stack):
    sign_in(page, stack, "bob")
    page.goto(f"{stack.url['orders']}/api/orders/")
    form = fill_order_form(page, "mug-blue", 1)
    context.clear_cookies(name=re.compile("^sso_"))  # signed out meanwhile: no access and no refresh cookie
    form.locator("button", has_text="POST").click()
    page.locator("#kept-sign-in:not([hidden])").wait_for()
    assert page.inner_text("#kept-title") == "Your sign-in had expired"
    assert page.locator("input[name=sku]").input_value() == "mug-blue", "nothing typed is lost"
    assert page.get_attribute("#kept-sign-in a", "target") == "_blank"


# ---- carol edits the catalogue ------------------------------------------------------------------------


def test_carol_edits_a_product_through_the_browsable_api_form(page, stack):
    sign_in(page, stack, "carol")
    page.goto(f"{stack.url['products']}/api/products/tshirt-logo/")
    form = page.locator("#put-object-form form")
    form.locator("input[name=price]").fill("21.50")
    form.locator("button", has_text="PUT").click()
    page.wait_for_function("() => document.querySelector('.response-info')?.innerText.includes('HTTP 200 OK')")
    token = stack.token("carol")["access"]
    product = requests.get(f"{stack.internal['products']}/api/products/tshirt-logo/", headers=bearer(token), timeout=10)
    assert product.json()["price"] == "21.50"
    assert page.inner_text("#sso-username") == "carol", "the answer is the themed page again"


# ---- the bar, the home pages, the script page ----------------------------------------------------------


def test_the_bar_leads_home_to_the_issuer_on_to_the_other_app_and_out(page, context, stack):
    sign_in(page, stack, "bob")
    page.goto(f"{stack.url['orders']}/api/orders/")
    with page.expect_navigation():
        page.click("a.sso-app-link:has-text('Products')")
    assert page.url == f"{stack.url['products']}/"
    assert page.inner_text("#root-title") == "Products"
    assert "default basic root view" not in page.content()
    with page.expect_navigation():
        page.click("#root-resources a:has-text('The catalogue')")
    assert page.url == f"{stack.url['products']}/api/products/"
    with page.expect_navigation():
        page.click("#sso-issuer-home")
    assert page.url == f"{stack.url['issuer']}/"
    assert page.inner_text("#home-username") == "bob"

    page.goto(f"{stack.url['products']}/")
    with page.expect_navigation():
        page.click("#sso-sign-out")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.inner_text("#signed-out") == "You are signed out"
    assert "sso_access" not in cookies_by_name(context)


def test_the_browsable_apis_buttons_show_their_labels(page, stack):
    """DRF's GET button is a link: the page's link colour once painted its label the colour of the button."""
    sign_in(page, stack, "bob")
    page.goto(f"{stack.url['orders']}/api/orders/")
    get_button = page.locator(".format-selection a.btn-primary").first
    assert get_button.inner_text().strip() == "GET"
    colour, background = get_button.evaluate(
        "element => [getComputedStyle(element).color, getComputedStyle(element).backgroundColor]"
    )
    assert colour != background, (colour, background)


def test_the_script_page_says_who_is_refused_where(page, stack):
    sign_in(page, stack, "carol")
    page.goto(f"{stack.url['orders']}/script/")
    page.wait_for_selector("#results:not([hidden])")
    assert page.inner_text(".refusal-title") == "No access to Orders", "the issuer's words for it"
    message = page.inner_text("#refusals")
    assert "You are signed in as carol, but your account may not use Orders" in message
    assert page.get_attribute("#refusals a", "href") == f"{stack.url['issuer']}/"
    assert page.is_hidden("#orders-section")
    assert "Blue mug (mug-blue)" in page.inner_text("#products"), "what she may use is still shown"
    assert "answered 401" not in page.inner_text("body")


def test_no_relying_page_load_asks_for_a_missing_icon(page, stack):
    sign_in(page, stack, "bob")
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    for url in (
        f"{stack.url['orders']}/",
        f"{stack.url['orders']}/api/orders/",
        f"{stack.url['orders']}/script/",
        f"{stack.url['products']}/api/products/",
    ):
        page.goto(url)
        page.wait_for_load_state("load")
    assert missing == []
    assert (
        requests.get(f"{stack.internal['orders']}/favicon.ico", timeout=10)
        .headers["Content-Type"]
        .startswith("image/svg")
    )


# ---- on a phone, and at 1280 px ---------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [PHONE, {"width": 1280, "height": 800}], ids=["390px", "1280px"])
def test_nothing_is_cut_off(chromium, stack, viewport):
    context = chromium.new_context(viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    shots = os.environ.get("SSO_SCREENSHOT_DIR")  # set it to look at the pages (kept out of the repository)
    try:
        sign_in(page, stack, "alice")
        for name, url in (
            ("orders-home", f"{stack.url['orders']}/"),
            ("orders-api", f"{stack.url['orders']}/api/orders/"),
            ("products-api", f"{stack.url['products']}/api/products/"),
            ("products-item", f"{stack.url['products']}/api/products/mug-blue/"),
            ("script", f"{stack.url['orders']}/script/"),
        ):
            page.goto(url)
            page.wait_for_load_state("load")
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{shots}/{name}-{viewport['width']}.png", full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{name} scrolls sideways ({width} px)"
            if page.locator("#sso-username").count():
                box = page.locator("#sso-username").bounding_box()
                assert 0 <= box["x"] and box["x"] + box["width"] <= viewport["width"], f"{name}: the user name"
            for block in page.locator("pre").all():
                box = block.bounding_box()
                assert box["x"] + box["width"] <= viewport["width"], f"{name}: the JSON"
    finally:
        context.close()
