"""Browsers at a relying app (orders): a page load without a valid cookie is sent to the issuer and back;
API clients keep their 401; the browsable API shows who is signed in."""

from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.test import APIClient

from sso_client.revocations import REVOKED_KEY
from tests.keys import mint_token

pytestmark = pytest.mark.django_db

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # what Chromium sends on navigation
SIGN_IN = "http://localhost:8000/session/renew/"


def assert_sent_to_sign_in(response, back_to: str) -> None:
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == SIGN_IN
    assert parse_qs(location.query) == {"next": [back_to]}
    assert "no-store" in response["Cache-Control"]


@pytest.fixture
def browser():
    return APIClient(HTTP_ACCEPT=HTML)


def test_a_page_load_without_a_cookie_goes_to_the_issuer_and_back(browser):
    response = browser.get("/api/orders/?page=2")
    assert_sent_to_sign_in(response, "http://testserver/api/orders/?page=2")


@pytest.mark.parametrize(
    "token",
    [
        mint_token(exp=1_000_000, iat=999_000),  # expired long ago
        mint_token(key="other"),  # a key the issuer never published
        "garbage",
    ],
)
def test_a_page_load_with_a_refused_cookie_goes_to_the_issuer(browser, token):
    browser.cookies["sso_access"] = token
    assert_sent_to_sign_in(browser.get("/api/orders/"), "http://testserver/api/orders/")


def test_a_revoked_session_cookie_goes_to_the_issuer(browser, relying_app):
    import time

    from django.core.cache import cache

    browser.cookies["sso_access"] = mint_token(sid="ended")
    assert browser.get("/api/orders/").status_code == 200
    cache.set(REVOKED_KEY, {"sids": ["ended"], "fetched_at": time.time()}, timeout=None)
    relying_app.sync()
    assert_sent_to_sign_in(browser.get("/api/orders/"), "http://testserver/api/orders/")


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ACCEPT": "application/json"},
        {"HTTP_ACCEPT": "*/*"},
        {},
        {"HTTP_ACCEPT": HTML, "HTTP_AUTHORIZATION": "Bearer not-a-token"},
    ],
)
def test_api_clients_keep_the_401_and_its_challenge(headers):
    response = APIClient().get("/api/orders/", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="orders"'


def test_asking_for_json_in_the_browser_gets_the_401(browser):
    response = browser.get("/api/orders/?format=json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_form_post_without_a_cookie_is_answered_not_redirected(browser):
    # Redirecting would drop the form's body: the 401 page keeps the form (tests/sso_client/test_kept_form.py)
    # and links to the sign-in.
    response = browser.post("/api/orders/", {"sku": "mug-blue", "quantity": 1})
    assert response.status_code == 401
    page = response.content.decode()
    assert 'id="kept-form"' in page
    assert 'href="http://localhost:8000/session/renew/?next=http%3A%2F%2Ftestserver%2Fapi%2Forders%2F"' in page


def test_the_browsable_api_shows_who_is_signed_in_and_how_to_sign_out(browser):
    browser.cookies["sso_access"] = mint_token(username="carol", roles=["catalog_manager", "support"], staff=True)
    page = browser.get("/api/orders/").content.decode()
    assert '<strong id="sso-username">carol</strong>' in page
    assert '<span id="sso-roles">(catalog_manager, support)</span>' in page
    assert ">staff<" in page
    assert 'href="http://localhost:8000/logout/?next=http%3A%2F%2Ftestserver%2Fapi%2Forders%2F"' in page
    assert "<title>Order List – Orders</title>" in page


def test_the_username_is_escaped_in_the_browsable_api(browser):
    browser.cookies["sso_access"] = mint_token(username="<script>alert(1)</script>")
    page = browser.get("/api/orders/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# ---- CORS at a relying app ----------------------------------------------------------------------------


def test_a_preflight_from_a_configured_origin_passes_with_credentials():
    response = APIClient().options(
        "/api/orders/",
        HTTP_ORIGIN="http://localhost:8002",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://localhost:8002"
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "authorization" in response["Access-Control-Allow-Headers"]


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:8002.evil.example"])
def test_any_other_origin_gets_no_cors_headers(origin):
    client = APIClient()
    preflight = client.options("/api/orders/", HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert "Access-Control-Allow-Origin" not in preflight
    response = client.get("/api/orders/", HTTP_ORIGIN=origin, HTTP_AUTHORIZATION=f"Bearer {mint_token()}")
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response and "Access-Control-Allow-Credentials" not in response


def test_a_configured_origin_may_read_the_answer():
    response = APIClient().get(
        "/api/orders/", HTTP_ORIGIN="http://localhost:8000", HTTP_AUTHORIZATION=f"Bearer {mint_token()}"
    )
    assert response["Access-Control-Allow-Origin"] == "http://localhost:8000"
    assert response["Access-Control-Allow-Credentials"] == "true"
