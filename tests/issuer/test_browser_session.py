"""The endpoints that read the refresh cookie: silent renewal for browsers (/session/renew/), the credentialed
CORS endpoint that gives script a Bearer token (/session/token/), with racing renewals inside the grace
period; and CORS on the issuer's token API."""

from datetime import timedelta

import jwt
import pytest
from django.core.cache import cache
from django.utils import timezone

from issuer import clock
from issuer.models import SSOSession
from issuer.services import browser
from issuer.services.sessions import RefreshRejected, session_revoke
from issuer.views import pages

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

ORDERS = "http://localhost:8001"
ORDERS_PAGE = f"{ORDERS}/api/orders/"


@pytest.fixture
def bob(client, users):
    """A browser signed in as bob: the test client holds both cookies."""
    client.post("/login/", {"username": "bob", "password": PASSWORD})
    return SSOSession.objects.get(user=users["bob"])


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# ---- /session/renew/ ----------------------------------------------------------------------------------


def test_renewal_without_a_session_shows_the_login_page_then_returns(client, users):
    response = client.get("/session/renew/", {"next": ORDERS_PAGE})
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=http%3A%2F%2Flocalhost%3A8001%2Fapi%2Forders%2F"


def test_renewal_sets_fresh_cookies_and_sends_the_browser_back(client, bob):
    old_refresh = client.cookies["sso_refresh"].value
    response = client.get("/session/renew/", {"next": ORDERS_PAGE})
    assert response.status_code == 302
    assert response["Location"] == ORDERS_PAGE
    access, refresh = response.cookies["sso_access"], response.cookies["sso_refresh"]
    assert claims(access.value)["sid"] == bob.sid and "orders" in claims(access.value)["aud"]
    assert access["max-age"] == 300 and access["httponly"] is True
    assert refresh.value != old_refresh and refresh["path"] == "/session/", "rotated"
    bob.refresh_from_db()
    assert bob.refresh_jti == claims(refresh.value)["jti"] and bob.revoked_at is None


def test_a_planted_second_refresh_cookie_renews_nothing(client, bob, users):
    """Cookie tossing: a sibling subdomain sets its own refresh cookie on the parent domain, so the browser
    sends two. Neither is used (Django would take the last, likely the attacker's): the login page instead."""
    from django.test import Client

    attacker = Client()
    attacker.post("/login/", {"username": "carol", "password": PASSWORD})
    victims = client.cookies["sso_refresh"].value
    planted = attacker.cookies["sso_refresh"].value
    response = Client().get(
        "/session/renew/", {"next": ORDERS_PAGE}, HTTP_COOKIE=f"sso_refresh={victims}; sso_refresh={planted}"
    )
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "sso_access" not in response.cookies


def test_over_https_the_issuer_cookies_take_the_host_prefix(tmp_path):
    """__Host- cookies cannot be set by a sibling subdomain; the prefix needs Path=/ and Secure (settings only)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SSO_BROWSER, s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "settings.issuer",
        "SSO_ISSUER_URL": "https://sso.example.com",
        "ORDERS_URL": "https://orders.example.com",
        "PRODUCTS_URL": "https://products.example.com",
        "DJANGO_SECRET_KEY": "x" * 60,
        "SSO_DATA_DIR": str(tmp_path),
    }
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    browser_conf, session_name, csrf_name, secure = json.loads(result.stdout.strip().splitlines()[-1])
    assert browser_conf["REFRESH_COOKIE_NAME"] == "__Host-sso_refresh" and browser_conf["REFRESH_COOKIE_PATH"] == "/"
    assert browser_conf["RENEWALS_COOKIE_NAME"] == "__Host-sso_renewals"
    assert session_name.startswith("__Host-") and csrf_name.startswith("__Host-") and secure is True


def test_renewal_to_a_foreign_next_goes_home(client, bob):
    response = client.get("/session/renew/", {"next": "http://evil.example/"})
    assert response["Location"] == "/"


@pytest.mark.parametrize("cookie", ["garbage", "a.b.c", "x" * 5000])
def test_a_bad_refresh_cookie_leads_to_the_login_page_and_is_deleted(client, users, cookie):
    client.cookies["sso_refresh"] = cookie
    response = client.get("/session/renew/", {"next": ORDERS_PAGE})
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    assert response.cookies["sso_refresh"].value == "" and response.cookies["sso_refresh"]["max-age"] == 0


def test_renewal_of_a_revoked_session_leads_to_the_login_page(client, bob):
    session_revoke(session=bob, reason=SSOSession.RevokedReason.ADMIN)
    response = client.get("/session/renew/", {"next": ORDERS_PAGE})
    assert response["Location"].startswith("/login/?next=")
    assert response.cookies["sso_access"]["max-age"] == 0


def test_renewal_for_an_app_the_person_may_not_use_explains_instead_of_looping(client, users):
    client.post("/login/", {"username": "carol", "password": PASSWORD})
    response = client.get("/session/renew/", {"next": ORDERS_PAGE})
    assert response.status_code == 403
    assert "No access to Orders" in response.content.decode()


def test_a_renewal_loop_is_broken(client, bob):
    # A relying app that keeps refusing fresh cookies (say, the wrong SSO_COOKIE_DOMAIN) sends the browser
    # back every time; after a few renewals in a short window the issuer explains rather than bounce again.
    for _ in range(pages.MAX_RENEWALS_IN_WINDOW):
        assert client.get("/session/renew/", {"next": ORDERS_PAGE}).status_code == 302
    response = client.get("/session/renew/", {"next": ORDERS_PAGE})
    assert response.status_code == 409
    assert "did not accept" in response.content.decode()


@pytest.mark.parametrize("forged", ["-1000", "0", "abc", "-1:forged-signature"])
def test_a_forged_renewal_count_buys_no_extra_renewals(client, bob, forged):
    """The count is signed: a value the client made up counts as none, and the server's own count goes on
    from there (unsigned, `-1000` used to come back as `-999` and the loop never broke)."""
    client.cookies["sso_renewals"] = forged
    for _ in range(pages.MAX_RENEWALS_IN_WINDOW):
        assert client.get("/session/renew/", {"next": ORDERS_PAGE}).status_code == 302
    assert client.get("/session/renew/", {"next": ORDERS_PAGE}).status_code == 409


# ---- racing renewals ----------------------------------------------------------------------------------


def test_two_renewals_with_the_same_cookie_both_renew_the_one_session(client, bob):
    stale = client.cookies["sso_refresh"].value
    first = client.get("/session/renew/", {"next": ORDERS_PAGE})
    # (Read the values now: the test client shares these cookie objects with the next request's.)
    renewed = first.cookies["sso_refresh"].value
    assert renewed != stale
    client.cookies["sso_refresh"] = stale  # the second tab still holds the old cookie
    second = client.get("/session/renew/", {"next": ORDERS_PAGE})
    assert second["Location"] == ORDERS_PAGE
    # The same rotation's refresh token again: whichever tab renews next, the other's copy is then spent.
    assert claims(second.cookies["sso_refresh"].value)["jti"] == claims(renewed)["jti"]
    bob.refresh_from_db()
    assert bob.revoked_at is None, "a race between tabs is not a stolen token"
    assert bob.refresh_jti == claims(renewed)["jti"]


def test_the_race_between_tabs_does_not_depend_on_the_cache(client, bob):
    """The grace is the session's own rotation state, in the database: a cache cleared (or down) between the
    two tabs changes nothing."""
    stale = client.cookies["sso_refresh"].value
    client.get("/session/renew/", {"next": ORDERS_PAGE})
    cache.clear()
    client.cookies["sso_refresh"] = stale
    response = client.get("/session/renew/", {"next": ORDERS_PAGE})
    assert response["Location"] == ORDERS_PAGE
    bob.refresh_from_db()
    assert bob.revoked_at is None


def test_after_the_grace_period_a_rotated_cookie_is_a_replay(client, bob, monkeypatch, settings):
    stale = client.cookies["sso_refresh"].value
    client.get("/session/renew/", {"next": ORDERS_PAGE})
    later = timezone.now() + timedelta(seconds=settings.SSO_REFRESH_RETRY_GRACE_SECONDS + 1)
    monkeypatch.setattr(clock, "now", lambda: later)
    client.cookies["sso_refresh"] = stale
    response = client.get("/session/renew/", {"next": ORDERS_PAGE})
    assert response["Location"].startswith("/login/")
    bob.refresh_from_db()
    assert bob.revoked_reason == SSOSession.RevokedReason.REFRESH_REUSE


def test_a_retried_cookie_renews_nothing_once_the_session_has_ended(client, bob):
    stale = client.cookies["sso_refresh"].value
    client.get("/session/renew/", {"next": ORDERS_PAGE})
    session_revoke(session=bob, reason=SSOSession.RevokedReason.LOGOUT)
    with pytest.raises(RefreshRejected):
        browser.session_renew(raw_refresh=stale)


# ---- /session/token/ (script) -------------------------------------------------------------------------


def test_script_on_a_relying_origin_gets_a_bearer_token(client, bob):
    old_refresh = client.cookies["sso_refresh"].value
    response = client.post("/session/token/", HTTP_ORIGIN=ORDERS)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert claims(body["access"])["sid"] == bob.sid
    assert "refresh" not in body, "the refresh token stays in its HttpOnly cookie"
    assert response["Access-Control-Allow-Origin"] == ORDERS
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert response["Cache-Control"] == "no-store"
    assert response.cookies["sso_refresh"].value != old_refresh, "rotated"


@pytest.mark.parametrize(
    "origin", [None, "null", "http://evil.example", "http://localhost:8001.evil.example", "https://localhost:8001"]
)
def test_the_token_endpoint_refuses_any_other_origin(client, bob, origin):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    response = client.post("/session/token/", **headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "Origin not allowed.", "code": "origin_not_allowed"}
    assert "Access-Control-Allow-Origin" not in response
    assert "sso_refresh" not in response.cookies, "the refresh token was not spent"


def test_the_token_endpoint_without_a_session_says_so(client, users):
    response = client.post("/session/token/", HTTP_ORIGIN=ORDERS)
    assert response.status_code == 401
    assert response.json()["code"] == "not_signed_in"
    assert response["Access-Control-Allow-Origin"] == ORDERS, "so the script can read the refusal"


def test_the_token_endpoint_is_post_only(client, bob):
    assert client.get("/session/token/", HTTP_ORIGIN=ORDERS).status_code == 405


# ---- CORS ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/session/token/", "/api/token/", "/api/token/refresh/"])
def test_preflight_from_a_configured_origin_passes_with_credentials(client, path):
    response = client.options(
        path,
        HTTP_ORIGIN="http://localhost:8002",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://localhost:8002"
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "content-type" in response["Access-Control-Allow-Headers"]


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:8001.evil.example"])
@pytest.mark.parametrize("path", ["/session/token/", "/api/token/"])
def test_preflight_from_any_other_origin_gets_no_cors_headers(client, path, origin):
    response = client.options(path, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Credentials" not in response


def test_the_token_api_answers_configured_origins_only(client, users):
    body = {"username": "bob", "password": PASSWORD}
    allowed = client.post("/api/token/", body, content_type="application/json", HTTP_ORIGIN=ORDERS)
    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == ORDERS
    assert allowed["Access-Control-Allow-Credentials"] == "true"
    assert "origin" in allowed["Vary"].lower()
    foreign = client.post("/api/token/", body, content_type="application/json", HTTP_ORIGIN="http://evil.example")
    assert "Access-Control-Allow-Origin" not in foreign


def test_pages_outside_the_cors_paths_get_no_cors_headers(client):
    response = client.get("/login/", HTTP_ORIGIN=ORDERS)
    assert "Access-Control-Allow-Origin" not in response
