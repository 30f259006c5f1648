"""Hostile RP-initiated logout and UserInfo requests: open redirects through post_logout_redirect_uri, hints that
are forged, tampered with, from another issuer or not ID tokens at all, `state` echoed only on a registered
redirect, and garbage answered 4xx, never 5xx."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from issuer.models import SSOSession
from issuer.signing import keys
from tests import forge

from .signed_on import browser_sign_on, client_sign_on, oidc_client

SHOP = "https://shop.example.net"
BLOG = "https://blog.other.test"


@pytest.fixture
def world(apps, users, client):
    shop = oidc_client(apps["orders"], origin=SHOP)
    blog = oidc_client(apps["products"], origin=BLOG)
    browser = browser_sign_on(client, user=users["bob"]).session
    return {"browser": browser, "shop": client_sign_on(browser=browser, app=shop), "blog": blog}


def ended(session: SSOSession) -> bool:
    session.refresh_from_db()
    return not session.is_active


def resigned(token: str, *, header: dict | None = None, payload: dict | None = None) -> str:
    """`token` with its header or claims changed, signed again with the issuer's own active key: only what was
    changed is wrong with it."""
    old_header, old_payload, _ = forge.decoded(token)
    return forge.rs256({**old_header, **(header or {})}, {**old_payload, **(payload or {})}, _active_key())


def _active_key() -> rsa.RSAPrivateKey:
    return keys.active_signing_key().private_key


def assert_no_redirect_to(response, target: str) -> None:
    location = response.get("Location", "")
    assert not location or location.startswith("/"), location
    assert target not in location


@pytest.mark.parametrize(
    "uri",
    [
        f"{SHOP}/signed-out",  # trailing slash dropped
        f"{SHOP}/signed-out/x",
        f"{SHOP.upper()}/",
        "https://SHOP.example.net/",
        f"{SHOP}/?next=https://evil.example/",
        f"{SHOP}:8443/",
        "http://shop.example.net/",
        "https://user@shop.example.net/",
        f"{SHOP}@evil.example/",
        "https://shop.example.net.evil.example/",
        "//evil.example/",
        "javascript:alert(document.domain)",
        "data:text/html,<script>alert(1)</script>",
        f" {SHOP}/",
        f"{SHOP}/\n",
        f"{BLOG}/",  # another client's registered URI
    ],
)
def test_an_unregistered_post_logout_uri_is_never_followed_nor_given_the_state(client, world, uri):
    response = client.get(
        "/oauth/logout/", {"id_token_hint": world["shop"].id_token, "post_logout_redirect_uri": uri, "state": "xyz"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/logout/done/"
    assert "xyz" not in response["Location"]
    # The hint was valid: the sign-out itself happened.
    assert ended(world["browser"])


def test_another_clients_uri_with_its_client_id_and_this_hint_is_refused(client, world):
    response = client.get(
        "/oauth/logout/",
        {
            "id_token_hint": world["shop"].id_token,
            "client_id": world["blog"].client_id,
            "post_logout_redirect_uri": f"{BLOG}/",
        },
    )
    assert response.status_code == 400
    assert_no_redirect_to(response, BLOG)
    assert not ended(world["browser"])


def test_state_without_a_redirect_uri_goes_nowhere(client, world):
    response = client.get("/oauth/logout/", {"id_token_hint": world["shop"].id_token, "state": "xyz"})
    assert response["Location"] == "/logout/done/"


def _without(token: str, *, header: str = "", claim: str = "") -> str:
    """`token` signed again by the issuer's key with one header member or one claim left out."""
    old_header, payload, _ = forge.decoded(token)
    kept_header = {name: value for name, value in old_header.items() if name != header}
    return forge.rs256(kept_header, {name: value for name, value in payload.items() if name != claim}, _active_key())


def _with_parts(token: str, make) -> str:
    header, payload, signature = forge.decoded(token)
    return make(header, payload, signature)


def _stranger_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_jwk_text() -> bytes:
    return json.dumps(keys.published_jwks()["keys"][0]).encode()


# Each makes, from a good ID token hint, one the issuer did not sign as an ID token for this sign-on.
FORGERIES = {
    "signed by another key under our kid": lambda good: _with_parts(
        good, lambda h, p, s: forge.rs256(h, p, _stranger_key())
    ),
    "claims changed, signature kept": lambda good: _with_parts(
        good, lambda h, p, s: forge.with_signature(h, {**p, "sub": "1"}, s)
    ),
    "signature bit flipped": lambda good: _with_parts(
        good, lambda h, p, s: forge.with_signature(h, p, forge.flip_bit(s, 100))
    ),
    "another issuer, our key": lambda good: resigned(good, payload={"iss": "https://evil.example"}),
    "issuer with a trailing slash": lambda good: resigned(good, payload={"iss": settings.SSO_ISSUER_URL + "/"}),
    "typ at+jwt": lambda good: resigned(good, header={"typ": "at+jwt"}),
    "typ logout+jwt": lambda good: resigned(good, header={"typ": "logout+jwt"}),
    "no typ": lambda good: _without(good, header="typ"),
    "a token_type claim": lambda good: resigned(good, payload={"token_type": "access"}),
    "no sid": lambda good: _without(good, claim="sid"),
    "no auth_time": lambda good: _without(good, claim="auth_time"),
    "aud a list": lambda good: resigned(good, payload={"aud": [forge.decoded(good)[1]["aud"], "products"]}),
    "aud an unknown client": lambda good: resigned(good, payload={"aud": "nobody"}),
    "HS256 keyed with the public key": lambda good: _with_parts(
        good, lambda h, p, s: forge.hmac_signed({**h, "alg": "HS256"}, p, _public_jwk_text())
    ),
    "alg none": lambda good: _with_parts(
        good, lambda h, p, s: f"{forge.segment({**h, 'alg': 'none'})}.{forge.segment(p)}."
    ),
    "duplicate members": lambda good: _with_parts(
        good, lambda h, p, s: forge.rs256(json.dumps(h)[:-1] + ',"typ":"JWT"}', p, _active_key())
    ),
}


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_hint_the_issuer_did_not_sign_as_an_id_token_ends_nothing_and_redirects_nowhere(client, world, forgery):
    hint = forgery(world["shop"].id_token)
    response = client.get(
        "/oauth/logout/", {"id_token_hint": hint, "post_logout_redirect_uri": f"{SHOP}/", "state": "xyz"}
    )
    assert response.status_code == 400
    assert_no_redirect_to(response, SHOP)
    assert 'action="/session/logout/"' in response.content.decode()
    assert not ended(world["browser"]) and not ended(world["shop"].session)


@pytest.mark.parametrize("which", ["oidc access token", "first-party access token", "refresh token"])
def test_other_tokens_of_the_same_session_are_not_hints(client, world, which):
    pair = browser_sign_on(client, user=world["browser"].user)
    hint = {"oidc access token": world["shop"].access, "first-party access token": pair.access}.get(which, pair.refresh)
    response = client.get("/oauth/logout/", {"id_token_hint": hint, "post_logout_redirect_uri": f"{SHOP}/"})
    assert response.status_code == 400
    assert not ended(world["shop"].session)


@pytest.mark.parametrize(
    "params",
    [
        {"id_token_hint": "garbage"},
        {"id_token_hint": "a.b.c"},
        {"id_token_hint": "..."},
        {"id_token_hint": "e30.e30.e30"},
        {"id_token_hint": "x" * 20000},
        {"id_token_hint": "\u00e9\u00e9.\u00e9.\u00e9"},
        {"id_token_hint": "W10.W10.W10"},  # JSON arrays, not objects
        {"id_token_hint": forge.segment('{"alg":"RS256","kid":5}') + ".e30.AAAA"},
        {"id_token_hint": forge.segment('{"alg":"RS256","kid":"x"}') + "." + forge.segment('{"exp":"soon"}') + ".AA"},
        {"client_id": "nobody", "post_logout_redirect_uri": "//evil.example/"},
        {"client_id": "\x00", "state": "\x00"},
    ],
)
def test_garbage_is_refused_or_asked_about_never_a_5xx_nor_a_redirect(client, world, params):
    for method in (client.get, client.post):
        response = method("/oauth/logout/", params)
        assert 200 <= response.status_code < 500
        assert_no_redirect_to(response, "evil")
    assert not ended(world["browser"])


def test_methods_other_than_get_and_post_are_refused(client, world):
    assert client.put("/oauth/logout/").status_code == 405
    assert client.delete("/oauth/userinfo/").status_code == 405
