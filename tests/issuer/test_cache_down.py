"""Redis down at the issuer: key publishing, sign-in, refresh and service tokens keep working, because the
database is their source of truth; the outage is logged once per interval, not once per call."""

import logging

import pytest

from issuer.models import ServiceClient
from issuer.services.service_clients import service_client_secret_set
from settings.base import redis_cache
from sso_client import cache as tolerant_cache
from tests.servers import free_port

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_down(settings, monkeypatch):
    """The issuer's cache is a Redis on a port nothing listens on (the production backend and options)."""
    settings.CACHES = {"default": {**redis_cache(f"redis://127.0.0.1:{free_port()}/0"), "KEY_PREFIX": "issuer"}}
    monkeypatch.setattr(tolerant_cache, "outage", tolerant_cache.OutageLog(tolerant_cache.logger, "cache"))
    monkeypatch.setattr(tolerant_cache, "_skip_until", float("-inf"))


def test_jwks_and_the_revocation_list_answer_with_the_cache_down(api, users, cache_down):
    api.post("/api/token/", {"username": "bob", "password": PASSWORD}, format="json")  # a key exists
    jwks = api.get("/.well-known/jwks.json")
    assert jwks.status_code == 200 and jwks.json()["keys"]
    revocations = api.get("/api/revocations/")
    assert revocations.status_code == 200
    assert revocations.json()["kids"] == [key["kid"] for key in jwks.json()["keys"]]


def test_sign_in_and_refresh_work_with_the_cache_down(api, users, cache_down):
    signed_in = api.post("/api/token/", {"username": "bob", "password": PASSWORD}, format="json")
    assert signed_in.status_code == 200
    refreshed = api.post("/api/token/refresh/", {"refresh": signed_in.json()["refresh"]}, format="json")
    assert refreshed.status_code == 200
    assert refreshed.json()["sid"] == signed_in.json()["sid"]


def test_service_tokens_are_issued_with_the_cache_down(api, apps, cache_down):
    client = ServiceClient.objects.create(name="Orders", client_id="orders", scopes="stock:reserve")
    client.audiences.set([apps["products"]])
    service_client_secret_set(client=client, raw_secret="a-long-random-service-secret")
    response = api.post(
        "/api/service-token/",
        {"client_id": "orders", "client_secret": "a-long-random-service-secret", "audience": "products"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["access_token"]


def test_the_outage_is_one_log_line_not_one_per_call(api, users, cache_down, caplog, monkeypatch):
    monkeypatch.setattr(tolerant_cache, "SKIP_SECONDS", 0.0)  # every call tries Redis, and fails
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert api.get("/.well-known/jwks.json").status_code == 200
            assert api.post("/api/token/", {"username": "bob", "password": PASSWORD}, format="json").status_code == 200
    lines = [record for record in caplog.records if "cache unavailable" in record.getMessage()]
    assert len(lines) == 1
    assert not any(record.exc_info for record in caplog.records)
