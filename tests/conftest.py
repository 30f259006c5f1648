"""Fixtures shared by every group."""

import os
import time

import pytest

from tests import keys


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


@pytest.fixture
def relying_app(settings):
    """A relying app that trusts the test key: the JWKS and revocation list are placed in its cache the
    way the refresher would, so no issuer is needed and nothing runs in the background."""
    from django.core.cache import cache

    from sso_client.state import JWKS_KEY, REVOKED_KEY, issuer_state
    from sso_client.verify import verified_cache

    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "ISSUER": keys.ISSUER, "BACKGROUND_REFRESH": False}
    cache.clear()
    issuer_state.reset()
    verified_cache.clear()
    cache.set(JWKS_KEY, {"jwks": keys.jwks(), "fetched_at": time.time()}, timeout=None)
    cache.set(REVOKED_KEY, {"sids": [], "fetched_at": time.time()}, timeout=None)
    issuer_state.sync()
    yield issuer_state
    issuer_state.reset()
    verified_cache.clear()
    cache.clear()
