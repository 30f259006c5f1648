"""Login throttling in the service layer (issuer.services.throttles through credentials_authenticate), with the clock
moved instead of waited for, and the address it keys on (issuer.http.client_ip)."""

import io
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from rest_framework.test import APIClient

from issuer import clock
from issuer.http import client_ip
from issuer.services import credentials

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
    return credentials.credentials_authenticate(username=username, password=password, ip=ip or unique_ip())


def test_past_the_username_limit_even_the_right_password_is_throttled(user):
    for _ in range(2):
        with pytest.raises(credentials.InvalidCredentials):
            attempt(user.username, "wrong")
    with pytest.raises(credentials.LoginThrottled) as throttled:
        attempt(user.username, PASSWORD)
    assert 0 < throttled.value.retry_after <= 60


def test_a_throttled_attempt_checks_no_password(user, monkeypatch):
    for _ in range(2):
        with pytest.raises(credentials.InvalidCredentials):
            attempt(user.username, "wrong")

    def must_not_run(**kwargs):
        raise AssertionError("a throttled attempt reached the password check")

    monkeypatch.setattr(credentials, "authenticate", must_not_run)
    with pytest.raises(credentials.LoginThrottled):
        attempt(user.username, PASSWORD)


def test_the_throttle_lifts_when_the_window_closes(user, monkeypatch):
    for _ in range(2):
        with pytest.raises(credentials.InvalidCredentials):
            attempt(user.username, "wrong")
    with pytest.raises(credentials.LoginThrottled):
        attempt(user.username, PASSWORD)
    later = clock.now() + timedelta(seconds=61)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert attempt(user.username, PASSWORD) == user


def test_retry_after_counts_down_to_the_end_of_the_window(user, monkeypatch):
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start)
    for _ in range(2):
        with pytest.raises(credentials.InvalidCredentials):
            attempt(user.username, "wrong")
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(seconds=45))
    with pytest.raises(credentials.LoginThrottled) as throttled:
        attempt(user.username, PASSWORD)
    assert throttled.value.retry_after == 15


def test_a_success_clears_the_username_count(user):
    with pytest.raises(credentials.InvalidCredentials):
        attempt(user.username, "wrong")
    assert attempt(user.username, PASSWORD) == user
    with pytest.raises(credentials.InvalidCredentials):
        attempt(user.username, "wrong")
    assert attempt(user.username, PASSWORD) == user, "one failure since the last success: not throttled"


def test_a_success_does_not_clear_the_address_count(user):
    """Otherwise an attacker would reset their address's budget by signing in to their own account."""
    ip = unique_ip()
    for _ in range(3):
        with pytest.raises(credentials.InvalidCredentials):
            attempt(unique("nobody"), "wrong", ip)
    assert attempt(user.username, PASSWORD, ip) == user
    with pytest.raises(credentials.InvalidCredentials):
        attempt(unique("nobody"), "wrong", ip)
    with pytest.raises(credentials.LoginThrottled):
        attempt(user.username, PASSWORD, ip)
    assert attempt(user.username, PASSWORD, unique_ip()) == user


def test_case_and_unicode_variants_share_a_username_budget(user):
    variants = [user.username.upper(), user.username.replace("u", "ｕ", 1)]
    for variant in variants:
        with pytest.raises(credentials.InvalidCredentials):
            attempt(variant, "wrong")
    with pytest.raises(credentials.LoginThrottled):
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


# ---- attempts are counted before the password is checked (review finding: parallel guesses) ------------


def test_attempts_in_flight_cannot_exceed_the_limit():
    """Attempts are reserved before hashing, so however many arrive at once, only the budget is checked."""
    from issuer.services import throttles

    username = unique("victim")
    results = [throttles.attempt_begin(username=username, ip=unique_ip()) for _ in range(10)]
    assert results[:2] == [None, None]
    assert all(retry_after is not None for retry_after in results[2:])


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_check_at_most_the_limit_of_passwords(user, monkeypatch, settings):
    """Eight guesses at once: the two within the budget are held inside the password check until every other
    guess has been answered, which is the race the count-before-check order closes. Each thread counts in
    the database on its own connection (a committed user, so they can all see it). Eight hashing slots, so
    that the bound on hashing (tested in tests/issuer/test_sign_in_busy.py) lets all eight race."""
    import threading

    settings.SSO_PASSWORD_HASHING = {**settings.SSO_PASSWORD_HASHING, "CONCURRENCY": 8}

    outcomes: list[str] = []
    answered = threading.Condition()
    release = threading.Event()

    def held_authenticate(**kwargs):
        with answered:
            outcomes.append("checked")
            answered.notify_all()
        release.wait(timeout=10)
        return None

    monkeypatch.setattr(credentials, "authenticate", held_authenticate)
    monkeypatch.setattr(credentials, "audit_record", lambda **kwargs: None)  # no database writes from threads

    def guess():
        try:
            attempt(user.username, "wrong")
        except credentials.LoginThrottled:
            with answered:
                outcomes.append("throttled")
                answered.notify_all()
        except credentials.InvalidCredentials:
            pass

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    with answered:
        assert answered.wait_for(lambda: len(outcomes) == 8, timeout=10)
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert outcomes.count("checked") == 2 and outcomes.count("throttled") == 6


def test_successful_sign_ons_do_not_spend_the_address_budget(user):
    ip = unique_ip()
    for _ in range(10):
        assert attempt(user.username, PASSWORD, ip=ip) == user


def test_ipv6_addresses_of_one_64_share_a_budget():
    from issuer.services import throttles

    prefix = f"2001:db8:{uuid.uuid4().int % 65535:x}:1"
    results = [throttles.attempt_begin(username=None, ip=f"{prefix}::{n:x}") for n in range(1, 7)]
    assert results[:4] == [None] * 4
    assert results[4] is not None and results[5] is not None


def test_a_service_client_cannot_be_locked_out_by_someone_else_guessing_its_secret(settings):
    from issuer.models import ServiceClient
    from issuer.services import service_clients

    client = ServiceClient.objects.create(client_id=unique("svc"), name="svc")
    secret = service_clients.service_client_secret_generate(client=client)
    attacker = unique_ip()
    for _ in range(4):
        with pytest.raises(service_clients.InvalidClient):
            service_clients.service_client_authenticate(client_id=client.client_id, client_secret="guess", ip=attacker)
    with pytest.raises(service_clients.ClientThrottled):
        service_clients.service_client_authenticate(client_id=client.client_id, client_secret="guess", ip=attacker)
    assert (
        service_clients.service_client_authenticate(client_id=client.client_id, client_secret=secret, ip=unique_ip())
        == client
    )


# ---- where the counts live: nothing an attacker can make the issuer write evicts them ---------------------


def _flood_the_cache() -> None:
    """Write more entries than the cache holds, as any request that makes the issuer write to it could (a
    local-memory cache culls at MAX_ENTRIES, a Redis under `allkeys-*` evicts under memory pressure)."""
    from django.core.cache import cache

    limit = cache._max_entries if hasattr(cache, "_max_entries") else 300
    for n in range(2 * limit + 10):
        cache.set(f"filler:{uuid.uuid4().hex}:{n}", n, timeout=600)


def test_filling_the_cache_between_guesses_does_not_lift_a_username_lockout(user):
    for _ in range(2):
        with pytest.raises(credentials.InvalidCredentials):
            attempt(user.username, "wrong")
        _flood_the_cache()
    _flood_the_cache()
    with pytest.raises(credentials.LoginThrottled):
        attempt(user.username, PASSWORD)


def test_filling_the_cache_between_guesses_does_not_lift_an_address_lockout(user):
    ip = unique_ip()
    for _ in range(4):
        with pytest.raises(credentials.InvalidCredentials):
            attempt(unique("made-up"), "wrong", ip)
        _flood_the_cache()
    with pytest.raises(credentials.LoginThrottled):
        attempt(user.username, PASSWORD, ip)


@pytest.mark.parametrize("path", ["/api/token/", "/login/"])
def test_the_lockout_fails_closed_when_its_store_is_unavailable(user, monkeypatch, path):
    """A database that cannot count refuses the attempt, before any password is checked: never a 500, never an
    unchecked guess. Unreachable, it is the 503 with Retry-After every path answers then (webguard.unavailable)."""
    from django.db import OperationalError

    from issuer.models import ThrottleCounter

    def unavailable(*args, **kwargs):
        raise OperationalError("could not connect to server")

    def must_not_run(**kwargs):
        raise AssertionError("an attempt that could not be counted reached the password check")

    monkeypatch.setattr(ThrottleCounter.objects, "filter", unavailable)
    monkeypatch.setattr(credentials, "authenticate", must_not_run)
    response = APIClient(REMOTE_ADDR=unique_ip()).post(path, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 503
    assert 0 < int(response["Retry-After"]) <= 60


def test_expired_counters_are_pruned(user, monkeypatch):
    from django.core.management import call_command

    from issuer.models import ThrottleCounter

    with pytest.raises(credentials.InvalidCredentials):
        attempt(user.username, "wrong")
    assert ThrottleCounter.objects.exists()
    later = clock.now() + timedelta(seconds=61)
    monkeypatch.setattr(clock, "now", lambda: later)
    call_command("prune_throttle_counters", stdout=io.StringIO())
    assert not ThrottleCounter.objects.filter(window_ends_at__lte=later).exists()
    # and a new counter prunes as it is written
    with pytest.raises(credentials.InvalidCredentials):
        attempt(unique("someone"), "wrong")
    assert ThrottleCounter.objects.count() == 2  # that attempt's username and address, nothing older
