"""pytest fixtures for a site's own tests (`pytest_plugins = ["sso_client.pytest_plugin"]` in its conftest):
`sso_issuer`, a LocalIssuer (sso_client.testing) that sso_client trusts for the test's duration."""

from collections.abc import Iterator

import pytest

from .testing import LocalIssuer


@pytest.fixture
def sso_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer().installed() as issuer:
        yield issuer
