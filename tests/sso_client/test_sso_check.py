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


REGISTRATION = {
    "client_id": "shop",
    "client_name": "Shop",
    "audience": "orders",
    "redirect_uris": ["https://shop.example.net/sso/callback/"],
    "post_logout_redirect_uris": ["https://shop.example.net/"],
    "backchannel_logout_uri": "https://shop.example.net/sso/backchannel-logout/",
}


@pytest.fixture
def oidc_site(settings, network):
    """A site in oidc mode whose issuer publishes where a client reads its registration."""
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "MODE": "oidc", "CLIENT_ID": "shop", "CLIENT_SECRET": "s3cret"}
    document = discovery(client_registration_uri=f"{ISSUER}/oauth/client/")
    network.route("/openid-configuration", lambda request: reply(200, document))
    return network


def registration_answer(**overrides):
    import base64

    def answer(request):
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"shop:s3cret").decode():
            return reply(401, {"error": "invalid_client"})
        return reply(200, {**REGISTRATION, **overrides})

    return answer


def test_the_sites_registration_is_read_with_its_secret_and_printed(oidc_site):
    oidc_site.route("/oauth/client/", registration_answer())
    out = run_with("--site-url", "https://shop.example.net")
    assert "client 'shop': registered as 'Shop'\n" in out
    assert "redirect URIs: https://shop.example.net/sso/callback/\n" in out
    assert "sso_check: OK" in out


def run_with(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("sso_check", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("overrides", "secret", "args", "message"),
    [
        ({}, "wrong", (), "the issuer refused client 'shop' with this CLIENT_SECRET"),
        ({"audience": "shop"}, "s3cret", (), "carry audience 'shop', but SSO_CLIENT\\['AUDIENCE'\\] is 'orders'"),
        (
            {"redirect_uris": ["https://shop.example.net/callback"]},
            "s3cret",
            (),
            "no registered redirect URI ends in /sso/callback/",
        ),
        (
            {},
            "s3cret",
            ("--site-url", "https://www.shop.example.net"),
            "redirect URI https://www.shop.example.net/sso/callback/ is not registered",
        ),
        ({"backchannel_logout_uri": None}, "s3cret", (), "no back-channel logout URI is registered"),
    ],
    ids=["wrong secret", "audience unknown", "redirect not registered", "redirect not exact", "no back-channel"],
)
def test_each_registration_mistake_fails_with_what_to_fix(oidc_site, settings, overrides, secret, args, message):
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "CLIENT_SECRET": secret}
    oidc_site.route("/oauth/client/", registration_answer(**overrides))
    with pytest.raises(CommandError, match=message):
        run_with(*args)


def test_oidc_mode_without_client_credentials_fails(oidc_site, settings):
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "CLIENT_ID": None}
    with pytest.raises(CommandError, match="oidc mode needs"):
        run_with()


def test_a_site_that_does_not_route_the_packages_views_is_told_to(oidc_site, settings):
    settings.ROOT_URLCONF = "tests.sso_client.plain_urls"
    oidc_site.route("/oauth/client/", registration_answer())
    with pytest.raises(CommandError, match="add path"):
        run_with()
