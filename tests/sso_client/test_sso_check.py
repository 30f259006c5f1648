"""`manage.py sso_check`: discovery, JWKS and revocation list fetched and printed; each problem a failure."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests import keys
from tests.fake_http import FakeNetwork, install, reply

ISSUER = keys.ISSUER


def discovery(**overrides) -> dict:
    return {
        "issuer": ISSUER,
        "jwks_uri": f"{ISSUER}/.well-known/jwks.json",
        "token_endpoint": f"{ISSUER}/oauth/token/",
        "revocation_list_uri": f"{ISSUER}/api/revocations/",
        **overrides,
    }


@pytest.fixture
def network(monkeypatch) -> FakeNetwork:
    network = install(monkeypatch, FakeNetwork())
    network.route("/.well-known/jwks.json", lambda request: reply(200, keys.jwks()))
    network.route("/api/revocations/", lambda request: reply(200, {"revoked_sids": ["a", "b"]}))
    return network


def run() -> str:
    from io import StringIO

    out = StringIO()
    call_command("sso_check", stdout=out)
    return out.getvalue()


def test_prints_the_issuer_endpoints_and_kids(network):
    network.route("/openid-configuration", lambda request: reply(200, discovery()))
    out = run()
    assert f"issuer: {ISSUER}\n" in out
    assert f"token_endpoint: {ISSUER}/oauth/token/\n" in out
    assert f"kids: {keys.kid_of()}\n" in out
    assert "revoked sessions: 2\n" in out
    assert "audience 'orders': the issuer does not publish its audiences" in out
    assert "sso_check: OK" in out


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (discovery(issuer=ISSUER + "/"), "names issuer"),
        (discovery(jwks_uri="http://evil.example/jwks.json"), "JWKS could not be fetched"),
        (discovery(revocation_list_uri=None), "no revocation_list_uri"),
        (discovery(audiences_supported=["products"]), "does not know the audience 'orders'"),
    ],
)
def test_each_problem_fails_with_what_to_fix(network, document, message):
    network.route("/openid-configuration", lambda request: reply(200, {k: v for k, v in document.items() if v}))
    with pytest.raises(CommandError, match=message):
        run()


def test_an_unreachable_issuer_fails_with_a_hint(network):
    network.route("/openid-configuration", lambda request: reply(404, {}))
    with pytest.raises(CommandError, match="discovery could not be fetched"):
        run()
