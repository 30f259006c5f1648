"""Single sign-on across unrelated domains in Chromium: the issuer at sso.example.test, orders at
shop.example.net and products at blog.other.test, each relying app in sso_client's any-domain mode
(OpenID Connect: code flow with PKCE, its own host-only cookies, back-channel logout). No cookie domain is
shared, so nothing but the protocol carries the sign-on from one site to the other; step-up too goes through the
protocol (a new authorization asking for acr urn:sso:2fa within max_age)."""

import re
import time
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pyotp
import pytest
import requests

from tests.browser.test_second_factor import ENROL
from tests.servers import DEMO_PASSWORD, Stack, running_stack

pytestmark = pytest.mark.browser

HOSTS = {"issuer": "sso.example.test", "orders": "shop.example.net", "products": "blog.other.test"}
CLIENT_SECRET = "cross-domain-test-client-secret"
DEADLINE_SECONDS = 20
FRANK_SECRET = "MNZG643TFVSG63LBNFXC243UMVYHK4BB"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, chromium) -> Iterator[Stack]:
    extra_env = {
        "SSO_CLIENT_MODE": "oidc",
        # seed_demo gives the orders and products clients this secret, and each site presents it.
        "DEMO_CLIENT_SECRET": CLIENT_SECRET,
        "SSO_CLIENT_SECRET": CLIENT_SECRET,
        # The revocation window at the apps: a second, so the Bearer copy's refusal is seen soon.
        "SSO_REVOCATION_REFRESH_SECONDS": "1",
    }
    with running_stack(tmp_path_factory.mktemp("cross-domain"), hosts=HOSTS, extra_env=extra_env) as stack:
        assert "SSO_COOKIE_DOMAIN" not in extra_env and not stack.env["SSO_COOKIE_DOMAIN"]
        # Only Chromium maps the three names to loopback: the issuer's server reaches each app's back-channel
        # logout URI at the address it listens on, as it would over a private network in production.
        for site in ("orders", "products"):
            uri = f"{stack.internal[site]}/sso/backchannel-logout/"
            stack.manage(
                "issuer",
                "shell",
                "--no-imports",
                "-c",
                "from issuer.models import RelyingApp\n"
                f"RelyingApp.objects.filter(client_id={site!r}).update(backchannel_logout_uri={uri!r})",
            )
        yield stack


def visits_to_the_login_page(page, stack) -> list[str]:
    """Every navigation to the issuer's password page from now on."""
    seen: list[str] = []
    login = f"{stack.url['issuer']}/login/"
    page.on("request", lambda request: seen.append(request.url) if request.url.startswith(login) else None)
    return seen


def sign_in_at(page, stack, site: str, path: str, username: str = "bob") -> None:
    """Open a page of `site`: it sends the browser through the issuer, whose login page asks for the password."""
    page.goto(f"{stack.url[site]}{path}")
    assert urlsplit(page.url).netloc == urlsplit(stack.url["issuer"]).netloc
    assert urlsplit(page.url).path == "/login/"
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    with page.expect_navigation(url=f"{stack.url[site]}{path}"):
        page.click("button[type=submit]")


def cookie_values(context, url: str) -> dict[str, str]:
    """The cookies Chromium would send to `url`."""
    return {cookie["name"]: cookie["value"] for cookie in context.cookies(url)}


def bearer_status(stack, site: str, path: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return requests.get(f"{stack.internal[site]}{path}", headers=headers, timeout=10).status_code


def test_sign_in_once_then_the_other_domain_signs_in_with_no_password(page, context, stack):
    sign_in_at(page, stack, "orders", "/api/orders/")
    assert page.inner_text("#sso-username") == "bob"

    prompts = visits_to_the_login_page(page, stack)
    page.goto(f"{stack.url['products']}/api/products/")
    assert page.url == f"{stack.url['products']}/api/products/"
    assert page.inner_text("#sso-username") == "bob"
    assert "Blue mug" in page.content()
    assert prompts == [], "the second site signed in through the issuer's session, without the password page"

    # Each site holds its own host-only cookies; none is sent to another domain.
    sent = {site: cookie_values(context, stack.url[site]) for site in HOSTS}
    for cookie in context.cookies():
        assert cookie["domain"] in HOSTS.values(), f"{cookie['name']} is not host-only: {cookie['domain']}"
        if not cookie["name"].endswith("csrftoken"):  # Django's CSRF cookies are read by forms, not secrets
            assert cookie["httpOnly"], cookie["name"]
    assert {"sso_access", "sso_refresh", "sso_id_token"} <= set(cookie_values(context, f"{stack.url['orders']}/sso/"))
    for site, other in (("orders", "products"), ("orders", "issuer"), ("products", "issuer")):
        shared = set(sent[site].values()) & set(sent[other].values())
        assert not shared, f"{site} and {other} see the same cookie"
    assert sent["orders"]["sso_access"] != sent["products"]["sso_access"]
    # The access token each site keeps is its own (its audience), and no script on the page can read it.
    assert page.evaluate("document.cookie").find("sso_") == -1


def delivered_backchannel_logouts(stack, client_id: str) -> int:
    script = (
        "from issuer.models import BackchannelLogout\n"
        f"print(BackchannelLogout.objects.filter(client__client_id={client_id!r}, delivered_at__isnull=False).count())"
    )
    return int(stack.manage("issuer", "shell", "--no-imports", "-c", script).strip())


def backchannel_notices(stack) -> str:
    """The issuer's back-channel outbox, for a failure's message."""
    script = (
        "from issuer.models import BackchannelLogout\n"
        "print(list(BackchannelLogout.objects.values_list('client__client_id', 'attempts', 'delivered_at', 'last_error')))"
    )
    return stack.manage("issuer", "shell", "--no-imports", "-c", script)


def test_sign_out_at_one_domain_signs_the_other_out(page, context, stack):
    sign_in_at(page, stack, "products", "/api/products/")
    page.goto(f"{stack.url['orders']}/")
    assert page.url == f"{stack.url['orders']}/"
    assert page.inner_text("#sso-username") == "bob"
    products_access = cookie_values(context, stack.url["products"])["sso_access"]
    assert bearer_status(stack, "products", "/api/products/", products_access) == 200
    delivered_before = delivered_backchannel_logouts(stack, "products")

    # Sign out at orders: its logout posts, ends the session at the issuer, and comes back to orders' home,
    # which (signed out everywhere) asks to sign in at the issuer.
    with page.expect_navigation(url=f"{stack.url['issuer']}/login/**"):
        page.click("#sso-sign-out")
    assert "sso_access" not in cookie_values(context, stack.url["orders"])

    # The issuer told products over the back channel.
    deadline = time.monotonic() + DEADLINE_SECONDS
    while delivered_backchannel_logouts(stack, "products") == delivered_before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert delivered_backchannel_logouts(stack, "products") > delivered_before, backchannel_notices(stack)

    # products' next page asks to sign in, though its own access cookie has not expired.
    assert cookie_values(context, stack.url["products"])["sso_access"] == products_access
    page.goto(f"{stack.url['products']}/api/products/")
    assert urlsplit(page.url).netloc == urlsplit(stack.url["issuer"]).netloc
    assert urlsplit(page.url).path == "/login/"

    # And a copy of the token products held stops working as a Bearer token within the revocation interval.
    deadline = time.monotonic() + DEADLINE_SECONDS
    while bearer_status(stack, "products", "/api/products/", products_access) != 401 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert bearer_status(stack, "products", "/api/products/", products_access) == 401


def test_an_expired_access_cookie_is_renewed_by_this_site_with_no_trip_through_the_browser(page, context, stack):
    sign_in_at(page, stack, "orders", "/api/orders/")
    orders = urlsplit(stack.url["orders"]).hostname
    context.add_cookies([{"name": "sso_access", "value": "expired", "domain": orders, "path": "/"}])
    to_issuer: list[str] = []
    page.on("request", lambda request: to_issuer.append(request.url) if "example.test" in request.url else None)
    page.goto(f"{stack.url['orders']}/api/orders/")
    assert page.url == f"{stack.url['orders']}/api/orders/"
    assert page.inner_text("#sso-username") == "bob"
    assert to_issuer == [], "renewed server to server with the refresh cookie, not through the issuer's pages"

    # The pages' renewal script posts to this site's /sso/refresh/ (same origin) and gets a new cookie.
    before = cookie_values(context, stack.url["orders"])["sso_access"]
    answer = page.evaluate(
        "fetch('/sso/refresh/', {method: 'POST', credentials: 'include'}).then(r => r.json().then(b => [r.status, b]))"
    )
    assert answer[0] == 200 and 0 < answer[1]["expires_in"] <= 300
    assert cookie_values(context, stack.url["orders"])["sso_access"] != before
    assert to_issuer == []


FRANK = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from issuer.models import RelyingApp
frank = get_user_model().objects.create_user("frank", password=%(password)r)
frank.groups.add(Group.objects.get(name="catalog_manager"))
for app in RelyingApp.objects.filter(client_id__in=["orders", "products"]):
    app.users.add(frank)
"""
STEP_UP_MUG = """
from apps.products.models import Product
Product.objects.create(sku="mug-step-up", name="Step-up mug", price="4.00", stock=1)
"""
# The product page's own script: a DELETE with the page's CSRF token, answered with the status and any challenge.
DELETE_THIS_PAGE = """async () => {
  const token = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const answer = await fetch(location.pathname, {
    method: "DELETE", credentials: "same-origin", headers: {"X-CSRFToken": token, "Accept": "application/json"}});
  return [answer.status, answer.headers.get("WWW-Authenticate") || ""];
}"""


def test_a_page_needing_a_recent_second_factor_steps_up_at_the_issuer_and_comes_back(page, stack):
    stack.manage("issuer", "shell", "-c", FRANK % {"password": DEMO_PASSWORD})
    stack.manage("products", "shell", "-c", STEP_UP_MUG)
    sign_in_at(page, stack, "orders", "/api/orders/", username="frank")  # no second factor yet: the password alone
    stack.manage("issuer", "shell", "-c", ENROL % {"username": "frank", "secret": FRANK_SECRET})

    path = "/api/products/mug-step-up/"
    page.goto(f"{stack.url['products']}{path}")
    assert page.url == f"{stack.url['products']}{path}"  # signed in through the issuer's session, password only
    status, challenge = page.evaluate(DELETE_THIS_PAGE)
    assert status == 401 and challenge.startswith('Bearer error="insufficient_user_authentication"')

    # What the page does with RFC 9470's challenge: this site's login, asking for what the challenge names.
    asked = dict(re.findall(r'(acr_values|max_age)="?([^",]+)"?', challenge))
    assert asked == {"acr_values": "urn:sso:2fa", "max_age": "600"}
    prompts = visits_to_the_login_page(page, stack)
    page.goto(f"{stack.url['products']}/sso/login/?{urlencode({'next': path, **asked})}")
    assert page.url.startswith(f"{stack.url['issuer']}/login/step-up/?")
    page.fill("#id_code", pyotp.TOTP(FRANK_SECRET).now())
    with page.expect_navigation(url=f"{stack.url['products']}{path}"):
        page.click("button[type=submit]")
    assert not [url for url in prompts if urlsplit(url).path == "/login/"], "the step-up asked for the code alone"

    status, challenge = page.evaluate(DELETE_THIS_PAGE)
    assert (status, challenge) == (204, "")
    assert page.goto(f"{stack.url['products']}{path}").status == 404
