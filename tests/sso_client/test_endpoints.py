"""sso_client's own endpoints (/api/whoami/, /api/ping/) and its settings cache."""

import pytest
from rest_framework.test import APIClient

from sso_client.conf import sso_settings
from tests.keys import mint_token


@pytest.fixture
def client():
    return APIClient()


def test_whoami_returns_the_tokens_user(client):
    token = mint_token(sub="42", username="carol", roles=["catalog_manager"])
    response = client.get("/api/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json() == {"sub": "42", "username": "carol", "roles": ["catalog_manager"]}


@pytest.mark.parametrize("headers", [{}, {"HTTP_AUTHORIZATION": "Bearer garbage"}])
def test_whoami_without_a_valid_token_is_401(client, headers):
    response = client.get("/api/whoami/", HTTP_ACCEPT="application/json", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="orders"'


def test_whoami_does_not_lean_on_the_sites_drf_defaults():
    # A stock site's defaults (session and basic authentication, AllowAny) let an anonymous request reach the
    # view, which then failed with a 500 (seen by tests/browser/test_own_site.py at a startproject site).
    from sso_client.authentication import SSOAuthentication
    from sso_client.permissions import IsSSOAuthenticated
    from sso_client.views import WhoAmIView

    assert WhoAmIView.authentication_classes == [SSOAuthentication]
    assert WhoAmIView.permission_classes == [IsSSOAuthenticated]


@pytest.mark.parametrize("headers", [{}, {"HTTP_AUTHORIZATION": "Bearer garbage"}])
def test_ping_takes_no_credentials_and_ignores_any(client, headers):
    response = client.get("/api/ping/", **headers)
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_settings_are_merged_once_and_again_when_they_change(settings):
    assert sso_settings() is sso_settings()
    before = sso_settings()
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "LEEWAY_SECONDS": 7}
    assert sso_settings()["LEEWAY_SECONDS"] == 7
    assert before["LEEWAY_SECONDS"] != 7
    assert sso_settings()["MAX_TOKEN_BYTES"] == 8192, "defaults still fill what the site does not set"


def test_the_merged_settings_are_read_only():
    with pytest.raises(TypeError):
        sso_settings()["AUDIENCE"] = "products"
