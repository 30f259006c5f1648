"""Every sso_client test runs against a relying app that trusts the test key."""

import pytest


@pytest.fixture(autouse=True)
def _trust_test_key(relying_app):
    return relying_app
