"""Login throttling in the service layer (issuer.throttles through credentials_authenticate), with the clock
moved instead of waited for, and the address it keys on (issuer.http.client_ip)."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from rest_framework.test import APIClient

from issuer import clock, services
from issuer.http import client_ip

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.SSO_LOGIN_THROTTLE = {"FAILURES_PER_USERNAME": 2, "FAILURES_PER_IP": 4, "WINDOW_SECONDS": 60}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def unique(prefix: str) -> str:
    # Unique names and addresses instead of clearing the cache, which may be a Redis shared with a stack.
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def unique_ip() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


@pytest.fixture
def user():
    return get_user_model().objects.create_user(unique("user"), password=PASSWORD)


def attempt(username: str, password: str, ip: str | None = None):
    return services.credentials_authenticate(username=username, password=password, ip=ip or unique_ip())


def test_past_the_username_limit_even_the_right_password_is_throttled(user):
    for _ in range(2):
        with pytest.raises(services.InvalidCredentials):
            attempt(user.username, "wrong")
    with pytest.raises(services.LoginThrottled) as throttled:
        attempt(user.username, PASSWORD)
    assert 0 < throttled.value.retry_after <= 60


def test_a_throttled_attempt_checks_no_password(user, monkeypatch):
    for _ in range(2):
        with pytest.raises(services.InvalidCredentials):
            attempt(user.username, "wrong")

    def must_not_run(**kwargs):
        raise AssertionError("a throttled attempt reached the password check")

    monkeypatch.setattr(services, "authenticate", must_not_run)
    with pytest.raises(services.LoginThrottled):
        attempt(user.username, PASSWORD)


def test_the_throttle_lifts_when_the_window_closes(user, monkeypatch):
    for _ in range(2):
        with pytest.raises(services.InvalidCredentials):
            attempt(user.username, "wrong")
    with pytest.raises(services.LoginThrottled):
        attempt(user.username, PASSWORD)
    later = clock.now() + timedelta(seconds=61)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert attempt(user.username, PASSWORD) == user


def test_retry_after_counts_down_to_the_end_of_the_window(user, monkeypatch):
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start)
    for _ in range(2):
        with pytest.raises(services.InvalidCredentials):
            attempt(user.username, "wrong")
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(seconds=45))
    with pytest.raises(services.LoginThrottled) as throttled:
        attempt(user.username, PASSWORD)
    assert throttled.value.retry_after == 15


def test_a_success_clears_the_username_count(user):
    with pytest.raises(services.InvalidCredentials):
        attempt(user.username, "wrong")
    assert attempt(user.username, PASSWORD) == user
    with pytest.raises(services.InvalidCredentials):
        attempt(user.username, "wrong")
    assert attempt(user.username, PASSWORD) == user, "one failure since the last success: not throttled"


def test_a_success_does_not_clear_the_address_count(user):
    """Otherwise an attacker would reset their address's budget by signing in to their own account."""
    ip = unique_ip()
    for _ in range(3):
        with pytest.raises(services.InvalidCredentials):
            attempt(unique("nobody"), "wrong", ip)
    assert attempt(user.username, PASSWORD, ip) == user
    with pytest.raises(services.InvalidCredentials):
        attempt(unique("nobody"), "wrong", ip)
    with pytest.raises(services.LoginThrottled):
        attempt(user.username, PASSWORD, ip)
    assert attempt(user.username, PASSWORD, unique_ip()) == user


def test_case_and_unicode_variants_share_a_username_budget(user):
    variants = [user.username.upper(), user.username.replace("u", "ｕ", 1)]
    for variant in variants:
        with pytest.raises(services.InvalidCredentials):
            attempt(variant, "wrong")
    with pytest.raises(services.LoginThrottled):
        attempt(user.username, PASSWORD)


def test_the_api_answers_429_with_retry_after(user):
    api = APIClient(REMOTE_ADDR=unique_ip())
    for _ in range(2):
        assert api.post("/api/token/", {"username": user.username, "password": "x"}, format="json").status_code == 401
    response = api.post("/api/token/", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["code"] == "throttled"
    assert response.json()["detail"].startswith("Too many failed sign-in attempts.")


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "192.0.2.1"),  # no proxy: the header is the client's own invention
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.7, 203.0.113.9", "203.0.113.9"),  # the client prepended a forged entry
        (2, "198.51.100.7, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (2, "203.0.113.9", "192.0.2.1"),  # fewer entries than proxies: not from the proxies
        (1, "", "192.0.2.1"),
    ],
)
def test_client_ip_trusts_x_forwarded_for_only_for_the_configured_proxies(settings, proxies, forwarded, expected):
    settings.SSO_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
