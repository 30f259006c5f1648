"""A form posted from a relying app's own page after the access cookie expired is kept: the answer holds the
filled form and the script that renews the cookie at the issuer and sends it again. Only the site's own
forms (the CSRF check passes) are kept: another site's or a sibling subdomain's post gets the plain 401."""

import json
import re

import pytest
from django.test import Client

from apps.orders import products_client
from apps.orders.models import Order
from tests.keys import mint_token
from tests.orders.conftest import FakeProducts
from tests.orders.test_browser_pages import HTML, csrf_token_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser():
    """A browser signed in to orders whose forms must pass the CSRF check, as a real one's do."""
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT=HTML)
    client.cookies["sso_access"] = mint_token()
    return client


def kept_config(page: str) -> dict:
    return json.loads(re.search(r'<script id="sso-kept-form" type="application/json">(.*?)</script>', page).group(1))


def filled_page_then_expired(browser) -> str:
    """The order page, loaded while signed in; then the cookie expires (the browser sends an expired one)."""
    token = csrf_token_of(browser.get("/api/orders/").content.decode())
    browser.cookies["sso_access"] = mint_token(iat=1_000_000, exp=1_000_300)
    return token


@pytest.mark.parametrize("cookie", ["expired", "dropped"])
def test_an_expired_cookie_keeps_the_posted_form_for_renewal(browser, cookie):
    token = filled_page_then_expired(browser)
    if cookie == "dropped":  # the browser deletes the cookie when its max-age (the token's lifetime) runs out
        del browser.cookies["sso_access"]
    response = browser.post("/api/orders/", {"sku": "mug-blue", "quantity": "2", "csrfmiddlewaretoken": token})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="orders"'
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert '<form id="kept-form" method="post" action="/api/orders/">' in page
    assert '<input type="text" name="sku" value="mug-blue">' in page
    assert '<input type="text" name="quantity" value="2">' in page
    assert '<input type="hidden" name="sso_resubmitted" value="1">' in page
    assert page.count('name="csrfmiddlewaretoken"') == 1, "a fresh CSRF token, the posted one not repeated"
    assert kept_config(page) == {"tokenUrl": "http://localhost:8000/session/token/", "resubmit": True}
    assert '<script src="/static/sso_client/renew.js"></script>' in page
    assert not Order.objects.exists()


def test_the_kept_form_sent_again_places_the_order(browser, monkeypatch):
    products = FakeProducts()
    monkeypatch.setattr(products_client, "stock_reserve", products.stock_reserve)
    token = filled_page_then_expired(browser)
    page = browser.post("/api/orders/", {"sku": "mug-blue", "quantity": "2", "csrfmiddlewaretoken": token})
    browser.cookies["sso_access"] = mint_token()  # what the issuer's /session/token/ set meanwhile
    again = {"sku": "mug-blue", "quantity": "2", "sso_resubmitted": "1"}
    response = browser.post("/api/orders/", {**again, "csrfmiddlewaretoken": csrf_token_of(page.content.decode())})
    assert response.status_code == 201
    assert Order.objects.get().lines.get().quantity == 2


def test_a_second_refusal_waits_for_the_person_instead_of_looping(browser):
    token = filled_page_then_expired(browser)
    response = browser.post(
        "/api/orders/", {"sku": "mug-blue", "quantity": "2", "sso_resubmitted": "1", "csrfmiddlewaretoken": token}
    )
    page = response.content.decode()
    assert kept_config(page)["resubmit"] is False
    assert '<p id="kept-sign-in" >' in page, "the sign-in link is shown at once"
    assert page.count('name="sso_resubmitted"') == 1


def test_field_values_are_escaped(browser):
    token = filled_page_then_expired(browser)
    hostile = '"><script>alert(1)</script>'
    page = browser.post("/api/orders/", {"sku": hostile, "csrfmiddlewaretoken": token}).content.decode()
    assert "<script>alert(1)" not in page
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


@pytest.mark.parametrize(
    "refused",
    [
        {"HTTP_ORIGIN": "http://localhost:8002"},  # a sibling site: it must not get a same-origin re-post
        {"HTTP_ORIGIN": "http://attacker.test"},
        {"no_token": True},
        {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"},  # the browsable API's script forms renew by themselves
    ],
)
def test_only_this_sites_own_plain_forms_are_kept(browser, refused):
    token = filled_page_then_expired(browser)
    body = {"sku": "mug-blue", "quantity": "2"}
    if not refused.pop("no_token", False):
        body["csrfmiddlewaretoken"] = token
    response = browser.post("/api/orders/", body, **refused)
    assert response.status_code == 401
    assert "kept-form" not in response.content.decode()


def test_json_posts_keep_the_json_401(browser):
    filled_page_then_expired(browser)
    response = browser.post(
        "/api/orders/", {"sku": "mug-blue"}, content_type="application/json", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
