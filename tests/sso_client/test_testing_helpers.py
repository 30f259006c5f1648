"""sso_client.testing, as a site's own tests use it: tokens from a local issuer pass the real verifier, a
revoked session stops passing, and tokens of any other issuer do not."""

import pytest
from django.test import Client

from sso_client.service import service_token_verify
from sso_client.testing import LocalIssuer
from sso_client.verify import TokenRejected, token_verify
from tests.keys import mint_token

pytest_plugins = ["sso_client.pytest_plugin"]


def test_a_local_issuers_token_verifies_until_its_session_is_revoked():
    issuer = LocalIssuer(audience="orders")
    with issuer.installed():
        token = issuer.mint(roles=["buyer"])
        assert token_verify(token).claims["roles"] == ["buyer"]
        issuer.revoke(sid="session-1")
        with pytest.raises(TokenRejected, match="session revoked"):
            token_verify(token)
        # The test key of this repository's suite is not trusted inside the block: only the local issuer is.
        with pytest.raises(TokenRejected):
            token_verify(mint_token())


def test_dropped_and_changed_claims_are_refused():
    with LocalIssuer(audience="orders").installed() as issuer:
        with pytest.raises(TokenRejected, match="missing claim sid"):
            token_verify(issuer.mint(sid=None))
        with pytest.raises(TokenRejected, match="wrong audience"):
            token_verify(issuer.mint(aud=["elsewhere"]))
        service_token = issuer.service_token(client_id="billing", scope="charge")
        assert service_token_verify(service_token).claims["sub"] == "service:billing"
        with pytest.raises(TokenRejected):
            token_verify(service_token)


@pytest.mark.django_db
def test_the_fixture_signs_requests_to_the_sites_own_views(sso_issuer):
    response = Client().get("/api/whoami/", HTTP_AUTHORIZATION=f"Bearer {sso_issuer.mint(username='carol')}")
    assert response.status_code == 200
    assert response.json()["username"] == "carol"
