"""The DRF authentication class at a relying app (orders): Bearer or cookie, 401s, CSRF."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from sso_client.authentication import SSOAuthentication
from tests.keys import mint_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return APIClient()


def test_bearer_token_authenticates(client):
    response = client.get("/api/orders/", HTTP_AUTHORIZATION=f"Bearer {mint_token()}")
    assert response.status_code == 200


def test_no_credentials_gets_401_with_www_authenticate(client):
    response = client.get("/api/orders/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="orders"'


@pytest.mark.parametrize(
    "token",
    [
        mint_token(aud=["products"]),
        mint_token(token_type="refresh"),
        mint_token(iss="http://evil.example"),
        "garbage",
    ],
)
def test_bad_tokens_get_the_same_generic_401(client, token):
    response = client.get("/api/orders/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not valid.", "code": "token_not_valid"}


def test_token_in_query_string_is_ignored(client):
    response = client.get(f"/api/orders/?access_token={mint_token()}&token={mint_token()}")
    assert response.status_code == 401


def test_cookie_authenticates_safe_requests(client):
    client.cookies["sso_access"] = mint_token()
    assert client.get("/api/orders/").status_code == 200


def test_bearer_wins_over_cookie_and_never_falls_back(client):
    client.cookies["sso_access"] = mint_token()
    response = client.get("/api/orders/", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401


def test_cookie_authenticated_post_without_csrf_token_is_refused():
    client = APIClient(enforce_csrf_checks=True)
    client.cookies["sso_access"] = mint_token()
    response = client.post("/api/orders/", {"sku": "mug-blue", "quantity": 1}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_steady_state_makes_no_query_and_no_network_call(monkeypatch):
    fetches = []

    def no_network(url, **kwargs):
        fetches.append(url)
        raise AssertionError(f"network call to {url}")

    monkeypatch.setattr("sso_client.http.fetch_json", no_network)
    token = mint_token()
    factory = APIRequestFactory()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(1000):
            request = Request(factory.get("/api/orders/", HTTP_AUTHORIZATION=f"Bearer {token}"))
            user, verified = SSOAuthentication().authenticate(request)
            assert user.username == "bob"
    assert len(queries) == 0
    assert fetches == []
