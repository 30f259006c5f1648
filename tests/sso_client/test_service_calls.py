"""ServiceTokenAuth: one cached service token per grant, renewed shortly before it expires and once on a 401."""

import pytest
import requests
from django.conf import settings
from django.core.cache import cache

from sso_client import clock, service_calls
from sso_client.service_calls import TOKEN_RENEW_MARGIN_SECONDS, ServiceTokenAuth, ServiceTokenUnavailable
from tests.fake_http import FakeNetwork, install, reply

SERVICE_URL = "http://billing.test/api/charge/"


class ServiceNetwork(FakeNetwork):
    """The issuer's token endpoint, and a called service answering from a queue (then 200)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens_issued = 0
        self.expires_in = 300
        self.token_reply: tuple | None = None
        self.service_replies: list = []
        self.route("/api/service-token/", self.issuer)
        self.route("billing.test", self.service)

    def issuer(self, request):
        if self.token_reply:
            return self.token_reply
        self.tokens_issued += 1
        return reply(200, {"access_token": f"svc-{self.tokens_issued}", "expires_in": self.expires_in})

    def service(self, request):
        return self.service_replies.pop(0) if self.service_replies else reply(200, {"ok": True})

    def bearers(self) -> list[str]:
        return [call[2]["Authorization"] for call in self.calls_to("billing.test")]


@pytest.fixture
def network(monkeypatch) -> ServiceNetwork:
    return install(monkeypatch, ServiceNetwork())


@pytest.fixture
def auth() -> ServiceTokenAuth:
    cache.clear()
    return ServiceTokenAuth(client_id="orders", client_secret="s3cret", audience="billing", scope="charge refund")


def call(auth: ServiceTokenAuth) -> requests.Response:
    return requests.post(SERVICE_URL, json={}, auth=auth, timeout=5)


def test_the_token_is_fetched_from_the_issuers_internal_url_once_and_reused(network, auth):
    assert call(auth).status_code == 200
    assert call(auth).status_code == 200
    assert network.tokens_issued == 1
    url, body, _ = network.requests[0]
    assert url == f"{settings.SSO_CLIENT['ISSUER_INTERNAL_URL']}/api/service-token/"
    assert body == {
        "grant_type": "client_credentials",
        "client_id": "orders",
        "client_secret": "s3cret",
        "audience": "billing",
        "scope": "charge refund",
    }
    assert network.bearers() == ["Bearer svc-1", "Bearer svc-1"]


def test_each_grant_has_its_own_token(network, auth):
    call(auth)
    call(ServiceTokenAuth(client_id="orders", client_secret="s3cret", audience="billing", scope="charge"))
    assert network.bearers() == ["Bearer svc-1", "Bearer svc-2"]


def test_the_token_is_cached_until_shortly_before_it_expires(network, auth, monkeypatch):
    timeouts = []
    real_set = cache.set
    monkeypatch.setattr(
        cache, "set", lambda key, value, timeout: (timeouts.append(timeout), real_set(key, value, timeout))
    )
    auth.token()
    assert timeouts == [300 - TOKEN_RENEW_MARGIN_SECONDS]


def test_the_token_is_renewed_shortly_before_it_expires(network, auth, monkeypatch):
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start)
    assert auth.token() == "svc-1"
    monkeypatch.setattr(clock, "now", lambda: start + 300 - TOKEN_RENEW_MARGIN_SECONDS - 1)
    assert auth.token() == "svc-1"
    monkeypatch.setattr(clock, "now", lambda: start + 300 - TOKEN_RENEW_MARGIN_SECONDS + 1)
    assert auth.token() == "svc-2"
    assert network.tokens_issued == 2


def test_a_token_with_less_than_the_margin_left_is_not_cached(network, auth):
    network.expires_in = TOKEN_RENEW_MARGIN_SECONDS
    auth.token()
    auth.token()
    assert network.tokens_issued == 2


def test_a_401_renews_the_token_once_and_repeats_the_call(network, auth):
    network.service_replies = [reply(401, {"detail": "x", "code": "token_not_valid"})]
    answered = call(auth)
    assert answered.status_code == 200
    assert [r.status_code for r in answered.history] == [401]
    assert network.bearers() == ["Bearer svc-1", "Bearer svc-2"]
    # The renewed token is the cached one from now on.
    call(auth)
    assert network.bearers()[-1] == "Bearer svc-2"


def test_a_second_401_is_returned_not_retried(network, auth):
    network.service_replies = [reply(401, {}), reply(401, {}), reply(401, {})]
    assert call(auth).status_code == 401
    assert network.bearers() == ["Bearer svc-1", "Bearer svc-2"]
    assert network.tokens_issued == 2


def test_other_refusals_are_not_retried(network, auth):
    network.service_replies = [reply(403, {"detail": "x", "code": "permission_denied"})]
    assert call(auth).status_code == 403
    assert network.bearers() == ["Bearer svc-1"]


@pytest.mark.parametrize(
    "token_reply",
    [
        reply(401, {"detail": "Invalid client credentials.", "code": "invalid_client"}),
        reply(302, b""),
        reply(200, b"<html>not json</html>"),
        reply(200, {"access_token": 12, "expires_in": 300}),
        reply(200, {"access_token": "svc", "expires_in": "soon"}),
        reply(200, {"expires_in": 300}),
    ],
)
def test_no_usable_token_from_the_issuer_means_no_call(network, auth, token_reply):
    network.token_reply = token_reply
    with pytest.raises(ServiceTokenUnavailable):
        call(auth)
    assert network.bearers() == []


def test_the_issuer_unreachable_means_no_call(network, auth, monkeypatch):
    def down(request):
        raise requests.ConnectionError("issuer down")

    network.routes[0] = ("/api/service-token/", down)
    with pytest.raises(ServiceTokenUnavailable):
        call(auth)
    assert network.bearers() == []
    assert service_calls.cache.get(auth.cache_key) is None


def test_the_credentials_default_to_the_sites_service_client(network, settings):
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "SERVICE_CLIENT_ID": "reports", "SERVICE_CLIENT_SECRET": "s3cret"}
    call(ServiceTokenAuth(audience="billing", scope="charge"))
    body = network.calls_to("/api/service-token/")[0][1]
    assert (body["client_id"], body["client_secret"]) == ("reports", "s3cret")


def test_no_service_client_configured_means_no_call(network, settings):
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "SERVICE_CLIENT_ID": None}
    with pytest.raises(ServiceTokenUnavailable, match="SERVICE_CLIENT_ID"):
        ServiceTokenAuth(audience="billing", scope="charge")
    assert network.requests == []
