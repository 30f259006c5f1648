"""Every hostile-token case (tests/hostile_tokens.CASES) in-process against the issuer's own verification: its
account API (/api/sessions/) through Django's test client, middleware and authentication included. Every
case gets a fast, generic 401; tests/security proves the same at the running site with a representative set."""

import time

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import override_settings
from rest_framework.test import APIClient

from issuer.models import RelyingApp
from issuer.signing import keys
from tests.hostile_tokens import CASES, Ctx
from tests.issuer.conftest import FAST_HASHERS, PASSWORD, obtain
from tests.refusals import FAST_SECONDS, assert_generic_body

# What a token's jku or x5u names: the issuer verifies against its own keys and never fetches one.
LISTENER_URL = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def signed_on(django_db_setup, django_db_blocker):
    """The issuer with its signing key, and bob signed on (his default pair, and a token for the account API),
    made once for the module: every test here only reads. It is all inside one transaction, rolled back at
    the end, and each test's own (the `db` fixture) nests within it."""
    with django_db_blocker.unblock(), transaction.atomic(), override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        apps = [
            RelyingApp.objects.create(name="Orders", audience="orders", origin="http://localhost:8001"),
            RelyingApp.objects.create(name="Products", audience="products", origin="http://localhost:8002"),
        ]
        get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD).relying_apps.set(apps)
        keys.signing_key_ensure()
        signing_key = keys.active_signing_key()
        api = APIClient()
        pair = obtain(api, "bob").json()
        claims = jwt.decode(pair["access"], options={"verify_signature": False})
        account_token = obtain(api, "bob", audience=settings.SSO_ISSUER["AUDIENCE"]).json()["access"]
        ctx = Ctx(
            issuer_url=settings.SSO_ISSUER_URL,
            audience=settings.SSO_ISSUER["AUDIENCE"],
            bob={**pair, "access": account_token, "sub": claims["sub"], "sid_claim": claims["sid"], "claims": claims},
            jwks_body=api.get("/.well-known/jwks.json").content,
            listener_url=LISTENER_URL,
            kid=signing_key.kid,
            signing_key=signing_key.private_key,
        )
        yield api, ctx
        transaction.set_rollback(True)


def send(api, token: str):
    return api.get("/api/sessions/", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT="application/json")


def test_control_a_well_formed_token_signed_with_the_issuer_key_is_accepted(db, signed_on):
    """The baseline every hostile case below departs from by one change."""
    api, ctx = signed_on
    for token in (ctx.signed(), ctx.bob["access"]):
        response = send(api, token)
        assert response.status_code == 200, response.content


# Refused before any session is looked up (the one query is the published keys, as on every request), so
# no second run on PostgreSQL: the HTTP set in tests/security has that run, hostile kids and sids included.
@pytest.mark.storage_independent
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_token_gets_a_fast_generic_401(db, signed_on, case):
    api, ctx = signed_on
    token = CASES[case](ctx)
    started = time.monotonic()
    response = send(api, token)
    assert time.monotonic() - started < FAST_SECONDS
    assert response.status_code == 401, (response.status_code, response.content[:300])
    assert_generic_body(status=401, body=response.content.decode(), content_type=response.headers["Content-Type"])
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
