"""The authorization code flow in-process: authorize (sign-on, prompt, max_age, consent, app access, renewal in
place), code exchange, ID token, refresh."""

from datetime import timedelta
from urllib.parse import urlencode

import jwt
import pytest
from django.conf import settings
from django.test import Client

from issuer import clock
from issuer.models import AuditEvent, AuthorizationCode, Consent, SSOSession
from issuer.services.oidc_provider import code_digest
from issuer.signing import keys
from issuer.signing.oidc import ACCESS_TOKEN_TYP, ID_TOKEN_TYP

from ..conftest import PASSWORD
from .conftest import (
    ORDERS_CALLBACK,
    THIRD_CALLBACK,
    authorize,
    authorize_params,
    basic_auth,
    code_for,
    exchange,
    pkce,
    query_of,
)

pytestmark = pytest.mark.django_db


def _public_key(raw: str):
    kid = jwt.get_unverified_header(raw)["kid"]
    (jwk,) = [k for k in keys.published_jwks()["keys"] if k["kid"] == kid]
    return jwt.PyJWK(jwk, algorithm="RS256").key


def test_a_signed_in_browser_gets_a_code_with_state_and_iss(browser, orders_client):
    verifier, challenge = pkce()
    response = browser.get("/session/authorize/", authorize_params(orders_client, challenge))
    assert response.status_code == 302
    assert response["Location"].startswith(ORDERS_CALLBACK + "?")
    query = query_of(response["Location"])
    assert query["state"] == "state-123"
    assert query["iss"] == settings.SSO_ISSUER_URL
    row = AuthorizationCode.objects.get()
    assert row.code_digest == code_digest(query["code"]) and query["code"] not in row.code_digest
    assert (row.expires_at - row.created_at).total_seconds() <= 61
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.CODE_ISSUED).count() == 1


def test_the_code_exchange_answers_tokens_and_an_id_token(browser, orders_client, users):
    code, verifier = code_for(browser, orders_client)
    response = exchange(orders_client, code, verifier)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "openid profile email"
    access, id_token = body["access_token"], body["id_token"]
    assert len(access) < 1024
    assert jwt.get_unverified_header(access)["typ"] == ACCESS_TOKEN_TYP
    access_claims = jwt.decode(access, _public_key(access), algorithms=["RS256"], audience="orders")
    assert access_claims["client_id"] == "orders" and access_claims["scope"] == "openid profile email"
    assert access_claims["token_type"] == "access" and access_claims["aud"] == ["orders"]
    header = jwt.get_unverified_header(id_token)
    assert header["typ"] == ID_TOKEN_TYP and header["kid"] == keys.active_signing_key().kid
    claims = jwt.decode(
        id_token, _public_key(id_token), algorithms=["RS256"], audience="orders", issuer=settings.SSO_ISSUER_URL
    )
    session = SSOSession.objects.get(sid=claims["sid"])
    assert session.client.client_id == "orders" and session.browser_session is not None
    assert session.browser_session.client is None
    assert claims["sid"] == access_claims["sid"] != session.browser_session.sid
    assert claims["sub"] == str(users["bob"].pk) == access_claims["sub"]
    assert claims["nonce"] == "nonce-456" and claims["azp"] == "orders" and claims["amr"] == ["pwd"]
    assert claims["preferred_username"] == "bob" and claims["email"] == "bob@example.com"
    assert claims["email_verified"] is False and "token_type" not in claims
    assert claims["auth_time"] <= claims["iat"]


def test_refresh_rotates_and_answers_a_new_id_token(browser, orders_client):
    code, verifier = code_for(browser, orders_client)
    first = exchange(orders_client, code, verifier).json()
    response = Client().post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        **basic_auth("orders", orders_client.secret),
    )
    assert response.status_code == 200, response.content
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"] and "id_token" in second
    claims = jwt.decode(second["id_token"], options={"verify_signature": False})
    assert claims["sid"] == jwt.decode(first["id_token"], options={"verify_signature": False})["sid"]
    assert "nonce" not in claims
    # The rotated-out token again: reuse detection revokes the client session, as for every session.
    replay = Client().post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        **basic_auth("orders", orders_client.secret),
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert SSOSession.objects.get(sid=claims["sid"]).revoked_reason == SSOSession.RevokedReason.REFRESH_REUSE


def test_without_a_session_the_login_page_comes_first_and_leads_back(orders_client, users):
    browser = Client()
    response = authorize(browser, orders_client)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    next_url = query_of(response["Location"])["next"]
    assert next_url.startswith("/session/authorize/?")
    assert b"To continue to <strong>Orders</strong>" in browser.get(response["Location"]).content
    signed_in = browser.post("/login/", {"username": "bob", "password": PASSWORD, "next": next_url})
    assert signed_in.status_code == 302 and signed_in["Location"] == next_url
    back = browser.get(next_url)
    assert back.status_code == 302 and "code" in query_of(back["Location"])


def test_an_expired_access_cookie_is_renewed_in_place(browser, orders_client):
    browser.cookies.pop(settings.SSO_BROWSER["ACCESS_COOKIE_NAME"])
    old_refresh = browser.cookies[settings.SSO_BROWSER["REFRESH_COOKIE_NAME"]].value
    response = authorize(browser, orders_client)
    assert response.status_code == 302 and "code" in query_of(response["Location"])
    assert response.cookies[settings.SSO_BROWSER["ACCESS_COOKIE_NAME"]].value
    assert response.cookies[settings.SSO_BROWSER["REFRESH_COOKIE_NAME"]].value != old_refresh


def test_prompt_login_forces_the_login_page_and_a_new_sign_on(browser, orders_client):
    first_sid = SSOSession.objects.get().sid
    response = authorize(browser, orders_client, prompt="login")
    assert response["Location"].startswith("/login/?next=")
    next_url = query_of(response["Location"])["next"]
    # Coming back without signing in again does not satisfy it: the login page once more.
    assert browser.get(next_url)["Location"].startswith("/login/?next=")
    before_login = clock.now()
    browser.post("/login/", {"username": "bob", "password": PASSWORD, "next": next_url})
    back = browser.get(next_url)
    code = query_of(back["Location"])["code"]
    row = AuthorizationCode.objects.get(code_digest=code_digest(code))
    assert row.browser_session.sid != first_sid and row.auth_time >= before_login


def test_max_age_exceeded_asks_for_the_password_again(browser, orders_client, monkeypatch):
    assert "code" in query_of(authorize(browser, orders_client, max_age="300", nonce="a")["Location"])
    later = clock.now() + timedelta(seconds=301)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert authorize(browser, orders_client, max_age="300", nonce="b")["Location"].startswith("/login/?next=")
    query = query_of(authorize(browser, orders_client, max_age="300", prompt="none", nonce="c")["Location"])
    assert query["error"] == "login_required"


def test_a_person_who_may_not_use_the_app_is_refused(orders_client, users):
    browser = Client()
    browser.post("/login/", {"username": "carol", "password": PASSWORD})  # products only
    query = query_of(authorize(browser, orders_client)["Location"])
    assert query["error"] == "access_denied" and query["state"] == "state-123" and "code" not in query


def test_a_third_party_client_asks_for_consent_once(browser, third_party_client):
    page = authorize(browser, third_party_client)
    assert page.status_code == 200 and b"Allow Blog?" in page.content
    assert query_of(authorize(browser, third_party_client, prompt="none")["Location"])["error"] == "consent_required"
    _, challenge = pkce()
    url = "/session/authorize/?" + urlencode(authorize_params(third_party_client, challenge))
    csrf_browser = Client(enforce_csrf_checks=True)
    csrf_browser.cookies = browser.cookies
    assert csrf_browser.post(url, {"decision": "allow"}).status_code == 403, "CSRF-protected"
    allowed = browser.post(url, {"decision": "allow"})
    assert allowed["Location"].startswith(THIRD_CALLBACK) and "code" in query_of(allowed["Location"])
    assert Consent.objects.get().scope == "openid profile email"
    again = authorize(browser, third_party_client, nonce="another")
    assert "code" in query_of(again["Location"]), "remembered"
    more = authorize(browser, third_party_client, nonce="more", scope="openid profile email offline_access")
    assert more.status_code == 200, "a wider scope asks again"


def test_denying_consent_answers_access_denied(browser, third_party_client):
    _, challenge = pkce()
    url = "/session/authorize/?" + urlencode(authorize_params(third_party_client, challenge))
    denied = browser.post(url, {"decision": "deny"})
    assert query_of(denied["Location"])["error"] == "access_denied"
    assert not Consent.objects.exists()


def test_a_public_client_exchanges_with_pkce_alone(spa_client, users):
    browser = Client()
    browser.post("/login/", {"username": "bob", "password": PASSWORD})
    code, verifier = code_for(browser, spa_client, scope="openid")
    body = exchange(spa_client, code, verifier, secret=None).json()
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert claims["aud"] == "products-spa" and "preferred_username" not in claims and "email" not in claims


def test_scopes_outside_the_clients_are_dropped_and_unknown_ones_refused(browser, orders_client):
    orders_client.app.allowed_scopes = "openid profile"
    orders_client.app.save()
    code, verifier = code_for(browser, orders_client, scope="openid profile email")
    assert exchange(orders_client, code, verifier).json()["scope"] == "openid profile"
    assert query_of(authorize(browser, orders_client, scope="openid admin")["Location"])["error"] == "invalid_scope"


def test_ending_the_browser_sign_on_first_spends_the_code(browser, orders_client):
    code, verifier = code_for(browser, orders_client)
    browser.post("/session/logout/")
    assert exchange(orders_client, code, verifier).json()["error"] == "invalid_grant"


def test_an_authorization_request_may_be_posted(orders_client, users):
    browser = Client(enforce_csrf_checks=True)
    _, challenge = pkce()
    response = browser.post("/session/authorize/", authorize_params(orders_client, challenge))
    assert response["Location"].startswith("/login/?next=")
    next_url = query_of(response["Location"])["next"]
    assert "code_challenge=" in next_url, "the login page leads back with the posted parameters, as a GET"
    login = Client()
    login.post("/login/", {"username": "bob", "password": PASSWORD, "next": next_url})
    browser.cookies = login.cookies
    posted = browser.post("/session/authorize/", authorize_params(orders_client, challenge, nonce="posted"))
    assert posted.status_code == 302 and "code" in query_of(posted["Location"])
