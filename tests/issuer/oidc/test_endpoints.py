"""Revocation (RFC 7009), introspection (RFC 7662), client credentials at the token endpoint, and discovery."""

import jwt
import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata
from django.conf import settings
from django.test import Client

from issuer.models import AuditEvent, ServiceClient, SSOSession
from issuer.services.service_clients import service_client_secret_set
from issuer.views import discovery

from .conftest import basic_auth, code_for, exchange

pytestmark = pytest.mark.django_db


@pytest.fixture
def tokens(browser, orders_client) -> dict:
    code, verifier = code_for(browser, orders_client)
    return exchange(orders_client, code, verifier).json()


def _sid(tokens: dict) -> str:
    return jwt.decode(tokens["id_token"], options={"verify_signature": False})["sid"]


def _post(path: str, data: dict, client_id: str, secret: str):
    return Client().post(path, data, **basic_auth(client_id, secret))


# ---- revocation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["refresh_token", "access_token"])
def test_revoking_a_token_revokes_its_client_session(tokens, orders_client, kind):
    response = _post("/oauth/revoke/", {"token": tokens[kind], "token_type_hint": kind}, "orders", orders_client.secret)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    session = SSOSession.objects.get(sid=_sid(tokens))
    assert session.revoked_reason == SSOSession.RevokedReason.TOKEN_REVOKED
    assert session.browser_session.revoked_at is None, "the browser sign-on and its other clients go on"
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKEN_REVOKED, sid=session.sid).exists()
    refresh = _post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        "orders",
        orders_client.secret,
    )
    assert refresh.status_code == 400


def test_another_client_cannot_revoke_a_token(tokens, third_party_client):
    response = _post("/oauth/revoke/", {"token": tokens["refresh_token"]}, "blog", third_party_client.secret)
    assert response.status_code == 400
    assert SSOSession.objects.get(sid=_sid(tokens)).revoked_at is None


def test_revoking_an_unknown_token_is_a_200_that_changes_nothing(tokens, orders_client):
    response = _post("/oauth/revoke/", {"token": "not-a-token"}, "orders", orders_client.secret)
    assert response.status_code == 200
    assert not SSOSession.objects.filter(revoked_at__isnull=False).exists()


def test_revocation_needs_client_authentication(tokens):
    assert Client().post("/oauth/revoke/", {"token": tokens["refresh_token"]}).status_code in (400, 401)
    assert SSOSession.objects.get(sid=_sid(tokens)).revoked_at is None


# ---- introspection --------------------------------------------------------------------------------------


def test_introspection_of_a_live_access_token(tokens, orders_client, users):
    body = _post("/oauth/introspect/", {"token": tokens["access_token"]}, "orders", orders_client.secret).json()
    assert body["active"] is True
    assert body["sub"] == str(users["bob"].pk) and body["client_id"] == "orders" and body["aud"] == ["orders"]
    assert body["scope"] == "openid profile email" and body["sid"] == _sid(tokens)
    assert body["iss"] == settings.SSO_ISSUER_URL and body["token_type"] == "Bearer" and body["username"] == "bob"
    assert body["exp"] > body["iat"]


def test_introspection_by_a_service_client_named_in_aud(tokens, apps):
    service = ServiceClient.objects.create(name="Orders service", client_id="orders")
    service_client_secret_set(client=service, raw_secret="service-secret")
    body = _post("/oauth/introspect/", {"token": tokens["access_token"]}, "orders", "service-secret").json()
    assert body["active"] is True and body["aud"] == ["orders"]


def test_introspection_answers_inactive_for_revoked_foreign_and_garbage_tokens(
    tokens, orders_client, third_party_client
):
    foreign = _post("/oauth/introspect/", {"token": tokens["access_token"]}, "blog", third_party_client.secret)
    assert foreign.json() == {"active": False}
    assert _post("/oauth/introspect/", {"token": "garbage"}, "orders", orders_client.secret).json() == {"active": False}
    SSOSession.objects.filter(sid=_sid(tokens)).update(revoked_at="2026-01-01T00:00:00Z")
    revoked = _post("/oauth/introspect/", {"token": tokens["access_token"]}, "orders", orders_client.secret)
    assert revoked.json() == {"active": False}


def test_introspection_of_an_expired_token_is_inactive(tokens, orders_client, monkeypatch):
    import time

    later = time.time() + settings.ACCESS_TOKEN_LIFETIME.total_seconds() + 5
    monkeypatch.setattr(jwt.api_jwt, "datetime", _frozen_datetime(later))
    body = _post("/oauth/introspect/", {"token": tokens["access_token"]}, "orders", orders_client.secret).json()
    assert body == {"active": False}


def _frozen_datetime(timestamp: float):
    from datetime import UTC, datetime

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(timestamp, tz or UTC)

    return Frozen


def test_a_public_client_may_not_introspect(tokens, spa_client):
    response = Client().post("/oauth/introspect/", {"token": tokens["access_token"], "client_id": "products-spa"})
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


# ---- client credentials ---------------------------------------------------------------------------------


@pytest.fixture
def stock_service(apps) -> ServiceClient:
    service = ServiceClient.objects.create(name="Orders service", client_id="orders", scopes="stock:reserve")
    service.audiences.set([apps["products"]])
    service_client_secret_set(client=service, raw_secret="service-secret")
    return service


def test_client_credentials_answers_a_service_token(stock_service):
    response = _post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "audience": "products", "scope": "stock:reserve"},
        "orders",
        "service-secret",
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "service:orders" and claims["aud"] == "products" and claims["token_type"] == "service"
    assert body["scope"] == "stock:reserve" and "refresh_token" not in body and "id_token" not in body


def test_client_credentials_keep_the_service_token_rules(stock_service, orders_client):
    assert (
        _post(
            "/oauth/token/", {"grant_type": "client_credentials", "audience": "orders"}, "orders", "service-secret"
        ).status_code
        == 400
    )
    assert (
        _post(
            "/oauth/token/",
            {"grant_type": "client_credentials", "audience": "products", "scope": "stock:delete"},
            "orders",
            "service-secret",
        ).json()["error"]
        == "invalid_scope"
    )
    assert _post("/oauth/token/", {"grant_type": "client_credentials"}, "orders", "service-secret").status_code == 400
    # The relying app `orders` (same client_id, its own secret) is no service client.
    wrong = _post(
        "/oauth/token/", {"grant_type": "client_credentials", "audience": "products"}, "orders", orders_client.secret
    )
    assert wrong.status_code == 401


def test_a_service_client_cannot_use_the_code_grant(stock_service):
    response = _post("/oauth/token/", {"grant_type": "authorization_code", "code": "x"}, "orders", "service-secret")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


# ---- discovery ------------------------------------------------------------------------------------------


def test_discovery_advertises_what_is_implemented(client):
    body = client.get("/.well-known/openid-configuration").json()
    base = settings.SSO_ISSUER_URL
    assert body["authorization_endpoint"] == f"{base}/session/authorize/"
    assert body["token_endpoint"] == f"{base}/oauth/token/"
    assert body["revocation_endpoint"] == f"{base}/oauth/revoke/"
    assert body["introspection_endpoint"] == f"{base}/oauth/introspect/"
    assert body["response_types_supported"] == ["code"] and body["response_modes_supported"] == ["query"]
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["authorization_response_iss_parameter_supported"] is True
    assert body["request_parameter_supported"] is False and body["request_uri_parameter_supported"] is False
    assert set(body["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert body["revocation_list_uri"] == f"{base}/api/revocations/", "sso_client's own field stays"
    assert "password" not in body["grant_types_supported"] and "token" not in body["response_types_supported"]


def test_discovery_validates_with_authlib(client, settings):
    settings.SSO_ISSUER_URL = "https://sso.example.com"  # the specifications require https
    OpenIDProviderMetadata(discovery.provider_metadata()).validate()


def test_other_modules_extend_the_document(client, monkeypatch):
    monkeypatch.setattr(
        discovery, "METADATA_EXTENSIONS", [lambda base: {"userinfo_endpoint": f"{base}/oauth/userinfo/"}]
    )
    assert client.get("/.well-known/openid-configuration").json()["userinfo_endpoint"].endswith("/oauth/userinfo/")
