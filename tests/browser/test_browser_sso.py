"""Single sign-on in a real browser (Chromium through Playwright) across three subdomains: sign in once at the
issuer and use both apps' browsable APIs, place an order through the HTML form, the script page, sign out
everywhere, silent renewal of an expired cookie, cross-site and sibling-subdomain attacks, and the cookies'
flags."""

import json
import time
import uuid
from urllib.parse import quote, urlsplit

import jwt
import pytest
import requests

from tests.servers import DEMO_PASSWORD

from .conftest import COOKIE_DOMAIN, HOSTS

pytestmark = pytest.mark.browser


def sign_in(page, stack, username: str, *, next_url: str = "") -> None:
    """Sign in at the issuer's login page, as a person would."""
    query = f"?next={quote(next_url, safe='')}" if next_url else ""
    page.goto(f"{stack.url['issuer']}/login/{query}")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def cookies_by_name(context) -> dict[str, dict]:
    return {cookie["name"]: cookie for cookie in context.cookies()}


def requests_to(page, origin: str) -> list:
    """Every request the page makes to `origin` from now on."""
    seen: list = []
    page.on("request", lambda request: seen.append(request) if request.url.startswith(origin + "/") else None)
    return seen


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def orders_of(stack, username: str) -> list[dict]:
    token = stack.token(username)["access"]
    # One page of the most a page holds: these stacks place far fewer orders.
    response = requests.get(f"{stack.internal['orders']}/api/orders/?page_size=100", headers=bearer(token), timeout=10)
    response.raise_for_status()
    return [order for order in response.json()["results"] if order["owner_username"] == username]


# ---- 1. sign in once ----------------------------------------------------------------------------------


def test_sign_in_once_at_the_issuer_then_both_browsable_apis_show_the_user(page, stack):
    sign_in(page, stack, "bob")
    assert page.url == f"{stack.url['issuer']}/"
    assert page.inner_text("#home-username") == "bob"

    to_issuer = requests_to(page, stack.url["issuer"])
    page.goto(f"{stack.url['orders']}/api/orders/")
    assert page.url == f"{stack.url['orders']}/api/orders/"
    assert page.inner_text("#sso-username") == "bob"
    assert page.get_attribute("#sso-sign-out", "href").startswith(f"{stack.url['issuer']}/logout/?next=")

    page.goto(f"{stack.url['products']}/api/products/")
    assert page.url == f"{stack.url['products']}/api/products/"
    assert page.inner_text("#sso-username") == "bob"
    assert "Blue mug" in page.content()
    assert to_issuer == [], "no second sign-in, not even a silent trip through the issuer"


def test_a_first_visit_to_an_app_signs_in_at_the_issuer_and_comes_back(page, stack):
    target = f"{stack.url['products']}/api/products/"
    page.goto(target)
    assert page.url.startswith(f"{stack.url['issuer']}/login/?next=")
    page.fill("#id_username", "carol")
    page.fill("#id_password", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == target
    assert page.inner_text("#sso-username") == "carol"
    assert page.inner_text("#sso-roles") == "(catalog_manager)"


def test_an_app_the_person_may_not_use_says_so_instead_of_looping(page, stack):
    sign_in(page, stack, "carol")
    response = page.goto(f"{stack.url['orders']}/api/orders/")
    assert response.status == 403
    assert urlsplit(page.url).netloc == urlsplit(stack.url["issuer"]).netloc
    assert page.inner_text("#notice-title") == "No access to Orders"


# ---- 2. the browsable API's form ----------------------------------------------------------------------


def test_place_an_order_through_the_browsable_api_form(page, stack):
    before = len(orders_of(stack, "bob"))
    sign_in(page, stack, "bob")
    page.goto(f"{stack.url['orders']}/api/orders/")
    form = page.locator("#post-object-form form")
    form.locator("input[name=sku]").fill("tshirt-logo")
    form.locator("input[name=quantity]").fill("3")
    with page.expect_navigation():
        form.locator("button", has_text="POST").click()
    assert "HTTP 201 Created" in page.inner_text(".response-info")

    page.goto(f"{stack.url['orders']}/api/orders/")
    assert '"sku": "tshirt-logo"' in page.inner_text(".response-info")
    mine = orders_of(stack, "bob")
    assert len(mine) == before + 1
    assert mine[0]["lines"] == [{"sku": "tshirt-logo", "quantity": 3, "unit_price": "18.00"}]


# ---- 3. the script page -------------------------------------------------------------------------------


def test_the_script_page_lists_orders_and_products_through_bearer_tokens(page, stack):
    token = stack.token("bob")["access"]
    requests.post(
        f"{stack.internal['orders']}/api/orders/",
        json={"sku": "sticker-pack", "quantity": 4},
        headers=bearer(token),
        timeout=10,
    ).raise_for_status()
    sign_in(page, stack, "bob")
    to_orders, to_products = requests_to(page, stack.url["orders"]), requests_to(page, stack.url["products"])
    to_issuer = requests_to(page, stack.url["issuer"])

    page.goto(f"{stack.url['orders']}/script/")
    page.wait_for_selector("#results:not([hidden])")
    assert page.inner_text("#status") == "Loaded with a Bearer token."
    assert page.inner_text("#username") == "bob"
    assert "4 × sticker-pack" in page.inner_text("#orders")
    assert "Blue mug (mug-blue)" in page.inner_text("#products")

    token_calls = [r for r in to_issuer if r.url == f"{stack.url['issuer']}/session/token/"]
    assert [r.method for r in token_calls] == ["POST"]
    apis = [r for r in to_orders + to_products if "/api/" in r.url]
    assert {urlsplit(r.url).path for r in apis} == {"/api/orders/", "/api/products/"}
    for request in apis:
        headers = request.all_headers()
        assert headers["authorization"].startswith("Bearer ey"), request.url
        assert "cookie" not in headers, "the API calls carry the token only"


def test_the_script_page_offers_sign_in_when_there_is_no_session(page, stack):
    page.goto(f"{stack.url['orders']}/script/")
    page.wait_for_selector("#sign-in:not([hidden])")
    assert page.inner_text("#status") == "You are not signed in."
    assert page.get_attribute("#sign-in-link", "href").startswith(f"{stack.url['issuer']}/login/?next=")


# ---- 4. sign out everywhere ---------------------------------------------------------------------------


def test_sign_out_at_the_issuer_signs_out_of_every_app(page, context, stack):
    sign_in(page, stack, "bob")
    page.goto(f"{stack.url['orders']}/api/orders/")
    assert page.inner_text("#sso-username") == "bob"
    stolen_copy = cookies_by_name(context)["sso_access"]["value"]

    with page.expect_navigation():
        page.click("#sso-sign-out")
    assert page.url.startswith(f"{stack.url['issuer']}/logout/")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.inner_text("#signed-out") == "You are signed out"
    assert not {"sso_access", "sso_refresh"} & set(cookies_by_name(context))

    for site, path in (("orders", "/api/orders/"), ("products", "/api/products/")):
        page.goto(f"{stack.url[site]}{path}")
        assert page.url.startswith(f"{stack.url['issuer']}/login/?next="), site

    # A copy of the access cookie the browser no longer has (stolen, or in another browser) is refused too:
    # the issuer's revocation list reaches both apps within their refresh interval (1 s here).
    deadline = time.monotonic() + 5
    refused: set[str] = set()
    while refused != {"orders", "products"} and time.monotonic() < deadline:
        for site in ("orders", "products"):
            response = requests.get(
                f"{stack.internal[site]}/api/{site}/",
                cookies={"sso_access": stolen_copy},
                headers={"Accept": "application/json"},
                timeout=10,
            )
            if response.status_code == 401:
                refused.add(site)
        time.sleep(0.2)
    assert refused == {"orders", "products"}


# ---- 5. silent renewal --------------------------------------------------------------------------------


def expired_copy(stack, access: str) -> str:
    """The same token, signed with the issuer's own key, but expired half an hour ago."""
    claims = jwt.decode(access, options={"verify_signature": False})
    claims.update(iat=claims["iat"] - 3600, exp=claims["iat"] - 1800, jti=uuid.uuid4().hex)
    code = (
        "import json, jwt; from issuer.signing import keys; key = keys.active_signing_key(); "
        f"print(jwt.encode(json.loads({json.dumps(claims)!r}), key.private_key, algorithm='RS256', "
        "headers={'kid': key.kid}))"
    )
    return stack.manage("issuer", "shell", "-c", code).strip().splitlines()[-1]


def test_an_expired_access_cookie_is_renewed_silently_on_navigation(page, context, stack):
    sign_in(page, stack, "bob")
    before = cookies_by_name(context)
    expired = expired_copy(stack, before["sso_access"]["value"])
    assert jwt.decode(expired, options={"verify_signature": False})["exp"] < time.time()
    context.add_cookies(
        [{**before["sso_access"], "value": expired, "expires": time.time() + 300}]  # the browser still sends it
    )
    to_issuer = requests_to(page, stack.url["issuer"])

    page.goto(f"{stack.url['orders']}/api/orders/")
    assert page.url == f"{stack.url['orders']}/api/orders/"
    assert page.inner_text("#sso-username") == "bob"
    assert [urlsplit(r.url).path for r in to_issuer] == ["/session/renew/"], "renewed without a login page"
    after = cookies_by_name(context)
    renewed = jwt.decode(after["sso_access"]["value"], options={"verify_signature": False})
    assert renewed["exp"] > time.time() + 200
    assert renewed["sid"] == jwt.decode(expired, options={"verify_signature": False})["sid"], "the same session"
    assert after["sso_refresh"]["value"] != before["sso_refresh"]["value"], "the refresh cookie was rotated"


# ---- 6. cross-site requests and redirects -------------------------------------------------------------

ATTACK_FORM = """<!DOCTYPE html><html><body>
<form id="attack" method="post" action="{action}">
  <input name="sku" value="mug-blue"><input name="quantity" value="7">{extra}
</form>
<script>{script}document.getElementById("attack").submit();</script>
</body></html>"""


def attack_from(page, stack, attacker_url: str, *, extra: str = "", script: str = ""):
    """Serve a page at `attacker_url` (the browser believes it comes from there) that posts a form to orders;
    return orders' answer."""
    html = ATTACK_FORM.format(action=f"{stack.url['orders']}/api/orders/", extra=extra, script=script)
    page.route(attacker_url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    orders_api = f"{stack.url['orders']}/api/orders/"
    with page.expect_response(lambda r: r.url == orders_api and r.request.method == "POST") as answer:
        page.goto(attacker_url)
    return answer.value


def test_a_cross_site_form_post_to_orders_is_refused(page, stack):
    before = len(orders_of(stack, "bob"))
    sign_in(page, stack, "bob")
    response = attack_from(page, stack, "http://attacker.test/")
    # SameSite=Lax: the browser does not send the access cookie on another site's POST.
    assert response.status == 401
    assert "sso_access=" not in response.request.all_headers().get("cookie", "")
    assert len(orders_of(stack, "bob")) == before


def test_a_form_post_from_a_sibling_subdomain_is_refused_by_the_csrf_check(page, stack):
    """A sibling subdomain is same-site, so the access cookie does go along; the CSRF check must refuse it,
    even when the sibling (products, compromised) plants a CSRF cookie for the whole parent domain."""
    before = len(orders_of(stack, "bob"))
    sign_in(page, stack, "bob")
    planted = "A" * 32
    response = attack_from(
        page,
        stack,
        f"{stack.url['products']}/attack/",
        extra=f'<input name="csrfmiddlewaretoken" value="{planted}">',
        script=f'document.cookie = "orders_csrftoken={planted}; domain={COOKIE_DOMAIN}; path=/";',
    )
    assert "sso_access=" in response.request.all_headers()["cookie"], "same-site: the cookie was sent"
    assert response.status == 403
    assert "CSRF Failed" in response.text()
    assert len(orders_of(stack, "bob")) == before


@pytest.mark.parametrize("foreign", ["http://evil.example.test:9/", "//evil.example.test/", "javascript:alert(1)"])
def test_a_next_to_a_foreign_host_does_not_redirect_there(page, stack, foreign):
    sign_in(page, stack, "bob", next_url=foreign)
    assert page.url == f"{stack.url['issuer']}/"
    page.goto(f"{stack.url['issuer']}/session/renew/?next={quote(foreign, safe='')}")
    assert page.url == f"{stack.url['issuer']}/"


# ---- 7. the cookies -----------------------------------------------------------------------------------


def test_the_cookies_carry_their_flags_and_domain_and_scripts_cannot_read_them(page, context, stack):
    sign_in(page, stack, "alice", next_url="/admin/")
    assert page.url == f"{stack.url['issuer']}/admin/", "staff are signed in to the admin too"
    assert "Site administration" in page.content()
    now = time.time()
    cookies = cookies_by_name(context)

    access = cookies["sso_access"]
    assert (access["domain"], access["path"]) == (COOKIE_DOMAIN, "/")
    assert access["httpOnly"] is True and access["sameSite"] == "Lax"
    assert access["secure"] is False, "plain http in this test; Secure whenever the origins are https"
    assert 280 <= access["expires"] - now <= 300, "lives as long as the access token"

    refresh = cookies["sso_refresh"]
    assert (refresh["domain"], refresh["path"]) == (HOSTS["issuer"], "/session/"), "host-only, path-limited"
    assert refresh["httpOnly"] is True and refresh["sameSite"] == "Lax"

    admin_session = cookies["sso_issuer_session"]
    assert admin_session["domain"] == HOSTS["issuer"] and admin_session["httpOnly"] is True

    for url in (f"{stack.url['orders']}/api/orders/", f"{stack.url['issuer']}/", f"{stack.url['issuer']}/login/"):
        page.goto(url)
        visible = page.evaluate("document.cookie")
        assert "sso_access" not in visible and "sso_refresh" not in visible and "sso_issuer_session" not in visible
