"""Scaling out a relying app: two orders processes (two gunicorn servers on their own ports, one database)
that share nothing but a Redis cache. A key rotation at the issuer and a logout each reach both processes,
with no request failing on the new key. Real servers on loopback, polled in bounded loops."""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import jwt
import pytest
import requests

from tests.servers import Stack, free_port, prepare_stack, stop_process

pytestmark = pytest.mark.services

# The relying apps' revocation interval here (seconds); a revocation must reach both within it plus a second.
INTERVAL = 1.0
BUDGET = INTERVAL + 1.0
DEADLINE = 20.0  # every polling loop gives up after this long, so a broken build fails instead of hanging


@dataclass
class ScaledOut:
    stack: Stack
    orders: list[str]  # the base URL of each orders process


@pytest.fixture(scope="module")
def scaled(tmp_path_factory, redis_url) -> Iterator[ScaledOut]:
    # A key prefix of its own, so concurrent runs sharing the test Redis database never see each other's keys.
    prefix = f"scale-{uuid.uuid4().hex[:12]}-"
    stack = prepare_stack(
        tmp_path_factory.mktemp("scale"),
        extra_env={"REDIS_URL": redis_url, "CACHE_KEY_PREFIX": prefix, "SSO_REVOCATION_REFRESH_SECONDS": str(INTERVAL)},
    )
    first = None
    try:
        stack.start("issuer")
        first = stack.start("orders")
        stack.processes.pop("orders")  # kept here, so the second start does not replace it
        second_port = free_port()
        stack.start("orders", port=second_port)
        yield ScaledOut(stack, [stack.internal["orders"], f"http://127.0.0.1:{second_port}"])
    finally:
        stack.stop_all()
        if first is not None:
            stop_process(first)
        _forget_prefix(redis_url, prefix)


def _forget_prefix(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"*{prefix}*", count=500):
        client.delete(key)


def whoami(base: str, access: str) -> requests.Response:
    return requests.get(
        f"{base}/api/whoami/", headers={"Authorization": f"Bearer {access}", "Accept": "application/json"}, timeout=10
    )


def seconds_until(predicate, *, deadline: float = DEADLINE, step: float = 0.02) -> float | None:
    """Seconds until `predicate()` holds, polling every `step`; None if it still fails at `deadline`."""
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        if predicate():
            return time.monotonic() - started
        time.sleep(step)
    return None


def test_both_processes_serve_the_same_token(scaled):
    access = scaled.stack.token("bob")["access"]
    for base in scaled.orders:
        response = whoami(base, access)
        assert response.status_code == 200, (base, response.text)
        assert response.json()["username"] == "bob"


def test_a_key_rotation_reaches_both_processes_without_a_failed_request(scaled):
    stack = scaled.stack
    before = stack.token("bob")["access"]
    old_kid = jwt.get_unverified_header(before)["kid"]
    for base in scaled.orders:
        assert whoami(base, before).status_code == 200

    stack.manage("issuer", "rotate_signing_key")
    after = stack.token("bob")["access"]
    new_kid = jwt.get_unverified_header(after)["kid"]
    assert new_kid != old_kid, "the issuer signs with the new key at once"

    # The very first request with the new kid succeeds at each process: the first one to see it fetches the
    # JWKS for the whole site, the other finds it in the shared cache (or waits for that one fetch).
    for base in scaled.orders:
        response = whoami(base, after)
        assert response.status_code == 200, (base, response.text)
    for base in scaled.orders:
        assert whoami(base, before).status_code == 200, "the old key stays published until its tokens expire"


def test_a_logout_reaches_both_processes_within_the_interval(scaled):
    stack = scaled.stack
    kept = stack.token("bob")["access"]
    pair = stack.token("bob")
    for base in scaled.orders:
        assert whoami(base, pair["access"]).status_code == 200  # verified, so in each process's token cache

    logged_out = time.monotonic()
    response = requests.post(f"{stack.internal['issuer']}/api/logout/", json={"refresh": pair["refresh"]}, timeout=10)
    assert response.status_code == 200
    for base in scaled.orders:
        waited = seconds_until(lambda base=base: whoami(base, pair["access"]).status_code == 401)
        assert waited is not None, f"{base} still accepts the token {DEADLINE} s after the logout"
        since_logout = time.monotonic() - logged_out
        assert since_logout <= BUDGET + 1.0, f"{base} refused it only {since_logout:.2f} s after the logout"

    for base in scaled.orders:
        assert whoami(base, kept).status_code == 200, "only the logged-out session ends"
