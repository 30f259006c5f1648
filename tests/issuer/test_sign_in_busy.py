"""Password hashing under a bounded concurrency: with every slot taken and the queue full, a sign-in is refused
at once with 503 and Retry-After (API and login page), not counted against anyone's throttle budget."""

import pytest

from issuer.models import ThrottleCounter
from issuer.services.credentials import hashing_slot

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_slot(settings):
    settings.SSO_PASSWORD_HASHING = {"CONCURRENCY": 1, "QUEUE": 0, "WAIT_SECONDS": 1.0}


def test_an_excess_api_sign_in_gets_503_with_retry_after(api, users, one_slot):
    with hashing_slot():
        refused = api.post("/api/token/", {"username": "bob", "password": PASSWORD}, format="json")
    assert refused.status_code == 503
    assert refused["Retry-After"] == "1"
    assert refused.json()["code"] == "sign_in_busy"
    assert not ThrottleCounter.objects.exists()
    assert api.post("/api/token/", {"username": "bob", "password": PASSWORD}, format="json").status_code == 200


def test_an_excess_page_sign_in_gets_503_with_retry_after(client, users, one_slot):
    with hashing_slot():
        refused = client.post("/login/", {"username": "bob", "password": PASSWORD})
    assert refused.status_code == 503 and refused["Retry-After"] == "1"
    assert b"Too many sign-ins at once" in refused.content
