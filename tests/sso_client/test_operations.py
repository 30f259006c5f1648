"""A relying app's operations endpoints: the verifier's and the refresher's metrics move when their events
happen, the scrape-time gauges read this process's copies, /readyz wants the keys and a fresh revocation
list, and the request id goes on to the issuer with every fetch."""

import time

import pytest
from django.core.cache import cache
from django.test import Client

from sso_client import clock
from sso_client.state import JWKS_KEY, REVOKED_KEY, issuer_state
from tests.fake_http import FakeNetwork, install, reply
from tests.keys import jwks, mint_token
from tests.metrics import has_sample, sample, scrape


@pytest.fixture
def client():
    return Client()


def whoami(client: Client, token: str, **headers: str):
    return client.get(
        "/api/whoami/", headers={"Authorization": f"Bearer {token}", "Accept": "application/json", **headers}
    )


def test_a_token_counts_cold_then_cached(client):
    before = scrape(client)
    token = mint_token()
    assert whoami(client, token).status_code == 200
    assert whoami(client, token).status_code == 200
    after = scrape(client)
    name = "sso_client_tokens_verified_total"
    assert sample(after, name, path="cold") - sample(before, name, path="cold") == 1
    assert sample(after, name, path="cached") - sample(before, name, path="cached") == 1


@pytest.mark.parametrize(
    ("token_factory", "reason"),
    [
        (lambda: mint_token(exp=int(time.time()) - 3600), "expired"),
        (lambda: mint_token(aud=["products"]), "wrong audience"),
        (lambda: mint_token(sid=None), "missing claim"),
        (lambda: "not.a.token", "malformed"),
    ],
)
def test_a_refusal_counts_under_its_reason(client, token_factory, reason):
    before = scrape(client)
    assert whoami(client, token_factory()).status_code == 401
    after = scrape(client)
    name = "sso_client_tokens_rejected_total"
    assert sample(after, name, reason=reason) - sample(before, name, reason=reason) == 1


def test_a_revoked_session_counts_as_session_revoked(client, relying_app):
    token = mint_token(sid="revoked-one")
    cache.set(REVOKED_KEY, {"sids": ["revoked-one"], "fetched_at": time.time() + 1}, timeout=None)
    relying_app.sync()
    before = scrape(client)
    assert whoami(client, token).status_code == 401
    after = scrape(client)
    name = "sso_client_tokens_rejected_total"
    assert sample(after, name, reason="session revoked") - sample(before, name, reason="session revoked") == 1


def test_reason_labels_are_a_fixed_set_never_token_text():
    from sso_client.metrics import rejection_reason

    assert rejection_reason("missing claim sid") == "missing claim"
    assert rejection_reason("unknown kid") == "unknown kid"
    assert rejection_reason("kid=attacker-chosen-" + "x" * 50) == "other"


class IssuerNetwork(FakeNetwork):
    """The issuer's discovery, JWKS and revocation list, answering `status` for the JWKS and the list."""

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.route(
            "/.well-known/openid-configuration",
            lambda request: reply(
                200, {"issuer": "http://localhost:8000", "jwks_uri": "http://localhost:8000/.well-known/jwks.json"}
            ),
        )
        self.route("/.well-known/jwks.json", lambda request: reply(status, jwks() if status == 200 else {}))
        self.route("/api/revocations/", lambda request: reply(status, {"revoked_sids": []} if status == 200 else {}))


@pytest.mark.parametrize(("status", "outcome"), [(200, "ok"), (503, "failed")])
def test_fetches_from_the_issuer_count_by_outcome(client, monkeypatch, status, outcome):
    install(monkeypatch, IssuerNetwork(status))
    before = scrape(client)
    cache.delete(JWKS_KEY)
    cache.delete(REVOKED_KEY)
    issuer_state.reset()
    issuer_state.sync()
    after = scrape(client)
    for name in ("sso_client_jwks_fetches_total", "sso_client_revocation_fetches_total"):
        assert sample(after, name, outcome=outcome) - sample(before, name, outcome=outcome) == 1, name


def test_the_gauges_read_this_process_copies(client, monkeypatch):
    token = mint_token()
    assert whoami(client, token).status_code == 200
    # The fixture's copies were fetched moments ago; 100 s later they are 100 s old, whatever the wall clock.
    monkeypatch.setattr(clock, "now", lambda: issuer_state.revocations.fetched_at + 100)
    text = scrape(client)
    assert sample(text, "sso_client_revocation_list_age_seconds") == pytest.approx(100, abs=1)
    assert 99 <= sample(text, "sso_client_jwks_age_seconds") <= 101
    assert sample(text, "sso_client_jwks_keys") == 1
    assert sample(text, "sso_client_verified_cache_entries") >= 1


def test_ages_are_left_out_before_the_first_fetch(client, monkeypatch):
    install(monkeypatch, IssuerNetwork(503))
    cache.clear()
    issuer_state.reset()
    text = scrape(client)
    assert not has_sample(text, "sso_client_revocation_list_age_seconds")
    assert not has_sample(text, "sso_client_jwks_age_seconds")


def test_ready_with_keys_and_a_fresh_revocation_list(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "problems": []}


def test_not_ready_when_the_revocation_list_is_stale(client, db, settings, monkeypatch):
    settings.SSO_READY_MAX_REVOCATION_AGE_SECONDS = 30
    monkeypatch.setattr(clock, "now", lambda: issuer_state.revocations.fetched_at + 31)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["revocation list stale"]
    public = client.get("/readyz", REMOTE_ADDR="203.0.113.9")
    assert public.status_code == 503
    assert public.content == b"unavailable\n"


def test_not_ready_without_the_issuer_keys(client, db, monkeypatch):
    network = install(monkeypatch, IssuerNetwork(503))
    cache.clear()
    issuer_state.reset()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "signing keys not loaded" in response.json()["problems"]
    # The first probe of a process loaded what it could, once; later probes read what the process holds.
    fetched = len(network.requests)
    assert fetched >= 1
    client.get("/readyz")
    assert len(network.requests) == fetched


def test_the_request_id_goes_on_to_the_issuer(client, monkeypatch):
    network = install(monkeypatch, IssuerNetwork(200))
    # A token signed by a key this process does not hold makes it refetch the JWKS during the request.
    response = whoami(client, mint_token(key="rotated"), **{"X-Request-ID": "trace-orders-1"})
    assert response.status_code == 401
    assert response["X-Request-ID"] == "trace-orders-1"
    sent = network.calls_to("/.well-known/jwks.json")
    assert sent, network.requests
    assert all(headers.get("X-Request-ID") == "trace-orders-1" for _url, _body, headers in sent)
