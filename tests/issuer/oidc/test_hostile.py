"""Hostile cases against the OpenID Connect provider, in-process: PKCE, code replay, redirect URI variations,
client authentication, tokens of one kind or client presented as another, and garbage that must be a 4xx."""

import base64
import time

import jwt
import pytest
from django.conf import settings
from django.test import Client

from issuer.models import AuditEvent, SSOSession

from .conftest import (
    ORDERS_CALLBACK,
    authorize,
    basic_auth,
    code_for,
    exchange,
    pkce,
    query_of,
)

pytestmark = pytest.mark.django_db


def _redirected_error(response) -> dict[str, str]:
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(ORDERS_CALLBACK)
    query = query_of(response["Location"])
    assert query["iss"] == settings.SSO_ISSUER_URL
    return query


# ---- PKCE ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": "S512"},
        {"code_challenge": "short"},
    ],
    ids=["missing", "method-missing-means-plain", "plain", "unknown-method", "malformed"],
)
def test_authorization_without_s256_pkce_is_refused(browser, orders_client, extra):
    query = _redirected_error(authorize(browser, orders_client, **extra))
    assert query["error"] == "invalid_request" and query["state"] == "state-123"
    assert "code" not in query


def test_a_wrong_verifier_gets_no_tokens(browser, orders_client):
    code, _ = code_for(browser, orders_client)
    other_verifier, _ = pkce()
    response = exchange(orders_client, code, other_verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert not SSOSession.objects.filter(client__isnull=False).exists()


def test_a_missing_verifier_gets_no_tokens(browser, orders_client):
    code, _ = code_for(browser, orders_client)
    response = exchange(orders_client, code, None)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    # The code was not spent by the failed attempt: its client, with the verifier, still gets its tokens.


# ---- codes -----------------------------------------------------------------------------------------------


def test_a_replayed_code_is_refused_and_revokes_what_it_issued(browser, orders_client):
    code, verifier = code_for(browser, orders_client)
    first = exchange(orders_client, code, verifier)
    assert first.status_code == 200
    sid = jwt.decode(first.json()["id_token"], options={"verify_signature": False})["sid"]
    replay = exchange(orders_client, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    session = SSOSession.objects.get(sid=sid)
    assert session.revoked_reason == SSOSession.RevokedReason.CODE_REPLAY
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.CODE_REPLAYED, sid=sid).exists()
    # Its refresh token stopped working with it.
    refresh = Client().post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        **basic_auth("orders", orders_client.secret),
    )
    assert refresh.status_code == 400


def test_another_clients_code_is_refused(browser, orders_client, third_party_client):
    code, verifier = code_for(browser, orders_client)
    response = exchange(third_party_client, code, verifier, redirect_uri=ORDERS_CALLBACK)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert exchange(orders_client, code, verifier).status_code == 200, "the code still belongs to its own client"


def test_an_expired_code_is_refused(browser, orders_client, monkeypatch):
    from datetime import timedelta

    from issuer import clock

    code, verifier = code_for(browser, orders_client)
    later = clock.now() + timedelta(seconds=61)
    monkeypatch.setattr(clock, "now", lambda: later)
    response = exchange(orders_client, code, verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_the_redirect_uri_at_the_token_endpoint_must_be_the_same(browser, orders_client):
    orders_client.app.redirect_uris += "\nhttp://localhost:8001/sso/other/"
    orders_client.app.save()
    code, verifier = code_for(browser, orders_client)
    response = exchange(orders_client, code, verifier, redirect_uri="http://localhost:8001/sso/other/")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


# ---- redirect URIs: never redirected to, shown on the issuer ---------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://localhost:8001/sso/callback",  # no trailing slash
        "http://localhost:8001/sso/callback//",
        "http://LOCALHOST:8001/sso/callback/",
        "http://localhost:8001/SSO/callback/",
        "http://localhost:8001/sso/callback/?extra=1",
        "http://localhost:8001/sso/callback/#fragment",
        "http://localhost:8002/sso/callback/",
        "http://localhost/sso/callback/",
        "https://localhost:8001/sso/callback/",
        "http://user@localhost:8001/sso/callback/",
        "http://localhost:8001@evil.example/sso/callback/",
        "http://evil.example/sso/callback/",
        'http://localhost:8001/sso/callback/"\\',
        "",
    ],
)
def test_a_redirect_uri_not_registered_exactly_is_shown_on_the_issuer(browser, orders_client, redirect_uri):
    response = authorize(browser, orders_client, redirect_uri=redirect_uri or None)
    assert response.status_code == 400
    assert not response.has_header("Location")
    assert b"This sign-in link is not valid" in response.content


@pytest.mark.parametrize("client_id", ["unknown", "", "orders\x00", '"\\<script>', "x" * 5000])
def test_an_unknown_client_is_shown_on_the_issuer(browser, orders_client, client_id):
    response = authorize(browser, orders_client, client_id=client_id or None)
    assert response.status_code == 400 and not response.has_header("Location")


def test_an_inactive_client_is_unknown(browser, orders_client):
    orders_client.app.is_active = False
    orders_client.app.save()
    assert authorize(browser, orders_client).status_code == 400


# ---- state, nonce, response type ------------------------------------------------------------------------


def test_state_is_echoed_exactly(browser, orders_client):
    state = "a b&c=d/é\"'<>"
    response = authorize(browser, orders_client, state=state)
    assert query_of(response["Location"])["state"] == state


def test_the_nonce_is_in_the_id_token_and_a_reused_one_refused(browser, orders_client):
    code, verifier = code_for(browser, orders_client, nonce="n-0S6_WzA2Mj")
    id_token = exchange(orders_client, code, verifier).json()["id_token"]
    assert jwt.decode(id_token, options={"verify_signature": False})["nonce"] == "n-0S6_WzA2Mj"
    query = _redirected_error(authorize(browser, orders_client, nonce="n-0S6_WzA2Mj"))
    assert query["error"] == "invalid_request"


def test_a_nonce_too_long_to_keep_is_refused_not_cut(browser, orders_client):
    query = _redirected_error(authorize(browser, orders_client, nonce="n" * 256))
    assert query["error"] == "invalid_request" and "code" not in query
    assert "code" in query_of(authorize(browser, orders_client, nonce="n" * 255)["Location"])


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "code token", "none", '"\\'])
def test_only_the_code_response_type(browser, orders_client, response_type):
    query = _redirected_error(authorize(browser, orders_client, response_type=response_type))
    assert query["error"] in ("unsupported_response_type", "unauthorized_client", "invalid_request")
    assert "code" not in query and "access_token" not in query


def test_prompt_none_without_a_session_answers_login_required(orders_client, users):
    response = authorize(Client(), orders_client, prompt="none")
    query = _redirected_error(response)
    assert query["error"] == "login_required" and query["state"] == "state-123"


# ---- client authentication ------------------------------------------------------------------------------


def test_a_public_client_presenting_a_secret_is_refused(spa_client, users):
    browser = Client()
    browser.post("/login/", {"username": "bob", "password": "correct horse battery staple"})
    code, verifier = code_for(browser, spa_client)
    response = exchange(spa_client, code, verifier, secret=None, client_secret="anything")
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"
    basic = exchange(spa_client, code, verifier, secret="anything")
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"
    assert exchange(spa_client, code, verifier, secret=None).status_code == 200, "with PKCE alone it may"


def test_a_confidential_client_without_its_secret_is_refused(browser, orders_client):
    code, verifier = code_for(browser, orders_client)
    response = exchange(orders_client, code, verifier, secret=None)
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"
    wrong = exchange(orders_client, code, verifier, secret="wrong")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    post = exchange(orders_client, code, verifier, secret=None, client_secret=orders_client.secret)
    assert post.status_code == 200, "client_secret_post"


def test_failed_client_authentication_is_throttled_per_address(orders_client, settings):
    settings.SSO_LOGIN_THROTTLE = {**settings.SSO_LOGIN_THROTTLE, "FAILURES_PER_IP": 3}
    for _ in range(3):
        response = Client().post("/oauth/token/", {"grant_type": "client_credentials"}, **basic_auth("orders", "wrong"))
        assert response.status_code == 401
    refused = Client().post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": "x"},
        **basic_auth("orders", orders_client.secret),
    )
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


def test_another_clients_refresh_token_is_refused(browser, orders_client, third_party_client):
    code, verifier = code_for(browser, orders_client)
    refresh = exchange(orders_client, code, verifier).json()["refresh_token"]
    response = Client().post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": refresh},
        **basic_auth("blog", third_party_client.secret),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    own = Client().post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": refresh},
        **basic_auth("orders", orders_client.secret),
    )
    assert own.status_code == 200, "no reuse was detected: the foreign attempt did not spend it"


def test_a_browser_sessions_refresh_token_is_no_clients(browser, orders_client):
    browser_refresh = browser.cookies[settings.SSO_BROWSER["REFRESH_COOKIE_NAME"]].value
    response = Client().post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": browser_refresh},
        **basic_auth("orders", orders_client.secret),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


# ---- one kind of token presented as another --------------------------------------------------------------


def test_an_id_token_is_no_access_token_at_the_issuer(browser, orders_client):
    code, verifier = code_for(browser, orders_client)
    id_token = exchange(orders_client, code, verifier).json()["id_token"]
    response = Client().get("/api/sessions/", HTTP_AUTHORIZATION=f"Bearer {id_token}")
    assert response.status_code == 401


@pytest.fixture
def orders_verifier(settings):
    """sso_client as orders runs it, trusting this issuer's published keys (what its JWKS fetch would give it)."""
    from django.core.cache import cache

    from issuer.signing import keys
    from sso_client.state import JWKS_KEY, REVOKED_KEY, issuer_state
    from sso_client.verify import verified_cache

    settings.SSO_CLIENT = {"ISSUER": settings.SSO_ISSUER_URL, "AUDIENCE": "orders", "BACKGROUND_REFRESH": False}

    def trust() -> None:
        issuer_state.reset()
        verified_cache.clear()
        cache.set(JWKS_KEY, {"jwks": keys.published_jwks(), "fetched_at": time.time()}, timeout=None)
        cache.set(REVOKED_KEY, {"sids": [], "fetched_at": time.time()}, timeout=None)
        issuer_state.sync()

    yield trust
    issuer_state.reset()
    verified_cache.clear()


def test_an_id_token_is_no_access_token_at_a_relying_app(browser, orders_client, orders_verifier):
    from sso_client import verify

    code, verifier = code_for(browser, orders_client)
    body = exchange(orders_client, code, verifier).json()
    orders_verifier()
    assert verify.token_verify(body["access_token"]).claims["client_id"] == "orders", "the access token passes"
    with pytest.raises(verify.TokenRejected):
        verify.token_verify(body["id_token"])


def test_an_id_token_cannot_be_revoked_or_introspected_as_a_token(browser, orders_client):
    code, verifier = code_for(browser, orders_client)
    id_token = exchange(orders_client, code, verifier).json()["id_token"]
    introspection = Client().post(
        "/oauth/introspect/", {"token": id_token}, **basic_auth("orders", orders_client.secret)
    )
    assert introspection.json() == {"active": False}


# ---- garbage: 4xx, never 5xx ----------------------------------------------------------------------------


GARBAGE = ["", "\x00", "%", "\\", '"', "\u202e", "x" * 10000, "é", "[]", "{}"]


@pytest.mark.parametrize("value", GARBAGE)
@pytest.mark.parametrize(
    "name",
    [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "prompt",
        "max_age",
        "code_challenge",
        "code_challenge_method",
    ],
)
def test_garbage_at_the_authorization_endpoint_is_a_4xx_or_an_error_redirect(browser, orders_client, name, value):
    response = authorize(browser, orders_client, **{name: value})
    assert response.status_code < 500
    if response.status_code == 302 and name not in ("state",):
        query = query_of(response["Location"])
        assert "code" in query or "error" in query


@pytest.mark.parametrize("value", GARBAGE)
@pytest.mark.parametrize(
    "name", ["grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "client_id", "scope"]
)
def test_garbage_at_the_token_endpoint_is_a_4xx(orders_client, name, value):
    data = {"grant_type": "authorization_code", "code": "c", "redirect_uri": ORDERS_CALLBACK, "code_verifier": "v" * 43}
    data[name] = value
    response = Client().post("/oauth/token/", data, **basic_auth("orders", orders_client.secret))
    assert 400 <= response.status_code < 500
    assert "error" in response.json()


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic",
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
        "Bearer x",
    ],
)
def test_garbage_client_authentication_is_a_4xx(orders_client, authorization):
    for path in ("/oauth/token/", "/oauth/revoke/", "/oauth/introspect/"):
        response = Client().post(
            path, {"grant_type": "authorization_code", "token": "x"}, HTTP_AUTHORIZATION=authorization
        )
        assert 400 <= response.status_code < 500, path


@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_tokens_at_revocation_and_introspection(orders_client, value):
    revoke = Client().post("/oauth/revoke/", {"token": value}, **basic_auth("orders", orders_client.secret))
    assert revoke.status_code in (200, 400)
    introspect = Client().post("/oauth/introspect/", {"token": value}, **basic_auth("orders", orders_client.secret))
    assert introspect.status_code in (200, 400)
    if introspect.status_code == 200:
        assert introspect.json() == {"active": False}


def test_the_token_endpoint_is_post_only(orders_client):
    assert Client().get("/oauth/token/").status_code == 405


def test_a_nul_in_the_client_id_of_the_sign_in_pages_next_is_no_client(client):
    # The login page names the client a sign-in continues to; a NUL there must not reach the database (PostgreSQL
    # refuses text with a NUL: the page would be a 500 there).
    response = client.get("/login/", {"next": "/session/authorize/?client_id=%00&response_type=code"})
    assert response.status_code == 200
