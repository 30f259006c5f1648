"""UserInfo at /oauth/userinfo/: the claims an OpenID Connect access token's scope grants, for a live client
session; 401 with a Bearer challenge for anything else, an ID token included."""

import time

import pytest
from django.test import Client

from issuer.models import RelyingApp, SSOSession
from issuer.services.sessions import session_revoke
from issuer.signing.oidc import ACCESS_TOKEN_TYP, jwt_sign
from tests import forge

from .signed_on import browser_sign_on, client_sign_on, oidc_client

SHOP = "https://shop.example.net"


@pytest.fixture
def shop(apps):
    return oidc_client(apps["orders"], origin=SHOP)


@pytest.fixture
def bob_at_shop(users, shop, client):
    users["bob"].first_name, users["bob"].last_name = "Bob", "Builder"
    users["bob"].save()
    browser = browser_sign_on(client, user=users["bob"]).session
    return client_sign_on(browser=browser, app=shop)


def userinfo(token: str, *, method: str = "get", **extra):
    # A fresh client: the issuer's cookies must play no part.
    return getattr(Client(), method)("/oauth/userinfo/", HTTP_AUTHORIZATION=f"Bearer {token}", **extra)


def assert_challenged(response, *, error: str = "invalid_token") -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer ")
    assert f'error="{error}"' in response["WWW-Authenticate"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_claims_the_scope_grants(bob_at_shop, users, method):
    response = userinfo(bob_at_shop.access, method=method)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    assert response.json() == {
        "sub": str(users["bob"].pk),
        "preferred_username": "bob",
        "name": "Bob Builder",
        "given_name": "Bob",
        "family_name": "Builder",
        "email": "bob@example.com",
        "email_verified": False,
    }


def test_openid_alone_gives_sub_alone(users, shop, client):
    browser = browser_sign_on(client, user=users["bob"]).session
    signed_on = client_sign_on(browser=browser, app=shop, scope="openid")
    assert userinfo(signed_on.access).json() == {"sub": str(users["bob"].pk)}


def test_a_token_without_openid_is_refused(users, shop, client):
    browser = browser_sign_on(client, user=users["bob"]).session
    signed_on = client_sign_on(browser=browser, app=shop, scope="profile")
    response = userinfo(signed_on.access)
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"


def test_no_token_is_a_bearer_challenge(bob_at_shop):
    response = Client().get("/oauth/userinfo/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Bearer realm="sso"'


def test_the_browser_cookie_alone_is_not_a_token(bob_at_shop, client):
    assert client.get("/oauth/userinfo/").status_code == 401


def test_a_signed_out_session_stops_userinfo_at_once(bob_at_shop):
    session_revoke(session=bob_at_shop.session.browser_session, reason=SSOSession.RevokedReason.LOGOUT)
    assert_challenged(userinfo(bob_at_shop.access))


def test_a_deactivated_client_gets_nothing(bob_at_shop, shop):
    RelyingApp.objects.filter(pk=shop.pk).update(is_active=False)
    assert_challenged(userinfo(bob_at_shop.access))


def test_an_id_token_is_not_an_access_token(bob_at_shop):
    assert_challenged(userinfo(bob_at_shop.id_token))


def test_a_first_party_access_token_is_not_an_oidc_one(users, shop, client):
    pair = browser_sign_on(client, user=users["bob"])
    assert_challenged(userinfo(pair.access))
    assert_challenged(userinfo(pair.refresh))


def _claims_of(token: str) -> dict:
    return forge.decoded(token)[1]


@pytest.mark.parametrize(
    "change",
    [
        {"exp": int(time.time()) - 60},  # expired
        {"token_type": "refresh"},
        {"client_id": "someone-else"},
        {"aud": ["products"]},
        {"scope": None},
        {"sid": "no-such-session"},
        {"sub": "999999"},
    ],
)
def test_a_token_signed_by_the_issuer_with_one_claim_wrong_is_refused(bob_at_shop, change):
    claims = {**_claims_of(bob_at_shop.access), **change}
    claims = {name: value for name, value in claims.items() if value is not None}
    assert_challenged(userinfo(jwt_sign(claims, typ=ACCESS_TOKEN_TYP)))


def test_the_same_claims_under_another_typ_are_refused(bob_at_shop):
    claims = _claims_of(bob_at_shop.access)
    assert userinfo(jwt_sign(claims, typ=ACCESS_TOKEN_TYP)).status_code == 200  # the control
    assert_challenged(userinfo(jwt_sign(claims, typ="JWT")))
    assert_challenged(userinfo(jwt_sign(claims, typ="logout+jwt")))


def test_the_token_in_a_form_field_is_not_read(bob_at_shop):
    # RFC 6750 section 2.2 is optional and Authlib's resource protector reads the Authorization header only.
    response = Client().post("/oauth/userinfo/", {"access_token": bob_at_shop.access})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Basic Ym9iOnBhc3M=",
        "Bearer a b",
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer " + "x" * 20000,
        "Bearer " + forge.segment('{"alg":"RS256","kid":5}') + ".e30.AAAA",
        "Bearer " + forge.segment('{"alg":"none","typ":"at+jwt"}') + ".e30.",
        "bearer \u00e9",
    ],
)
def test_garbage_authorization_is_a_4xx_never_a_5xx(bob_at_shop, authorization):
    response = Client().get("/oauth/userinfo/", HTTP_AUTHORIZATION=authorization)
    assert 400 <= response.status_code < 500
