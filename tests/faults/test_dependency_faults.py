"""Faults under traffic on the production profile (gunicorn 2 workers a site, PostgreSQL, Redis), one at a time:
Redis killed and restarted, PostgreSQL connections killed, the sites' databases refusing connections, an issuer
worker killed, the issuer hung, products' workers killed while orders are placed. For each, no 500 reaches a
client (a clear 503 where a dependency is down), valid tokens keep verifying at the relying apps, service
returns within seconds of the fault ending, and the books balance: every order answered 201 exists, no other
order does, and stock moved by exactly the ordered quantities, with no reservation orphaned
(dependency_stack.assert_books_balance)."""

import os
import signal
import time

import pytest
import requests

from .dependency_stack import (
    Traffic,
    allow_connections,
    assert_books_balance,
    bearer,
    books,
    database_names,
    gunicorn_workers,
    last_order_id,
    production_stack,
    signal_site,
    terminate_connections,
    wait_for,
    wait_until_served,
)


@pytest.fixture(scope="module")
def faults(tmp_path_factory, postgres_url):
    with production_stack(tmp_path_factory.mktemp("faults"), postgres_url) as (stack, redis, databases):
        wait_until_served(stack)
        yield stack, redis, databases, postgres_url


@pytest.fixture(scope="module")
def stock(faults):
    """The traffic's product's stock before any order."""
    _stack, _redis, databases, _postgres = faults
    before = books(databases)
    assert before.orders == {} and before.unsettled == before.held == 0
    return before.stock


@pytest.fixture
def balanced(faults, stock):
    """Check the books after a test's traffic: `balanced(traffic)` at the test's end."""
    stack, _redis, databases, _postgres = faults
    since = last_order_id(databases)
    return lambda traffic: assert_books_balance(stack, traffic, databases, since=since, stock=stock)


def answered(traffic: Traffic, operation: str, status: int) -> int:
    return traffic.outcomes.seen[(operation, status)]


def assert_clean(traffic: Traffic) -> None:
    """No 5xx other than a 503, and every 503 says when to come back."""
    assert traffic.outcomes.server_errors() == {}, traffic.outcomes.seen
    assert traffic.outcomes.retry_after_missing == 0


def verifies(stack, access: str) -> bool:
    response = requests.get(f"{stack.internal['orders']}/api/orders/", headers=bearer(access), timeout=5)
    return response.status_code == 200


def test_redis_killed_and_restarted(faults, balanced):
    stack, redis, _databases, _postgres = faults
    access = stack.token("bob")["access"]
    with Traffic(stack) as traffic:
        redis.kill()
        try:
            traffic.outcomes.clear()
            # The issuer signs in, refreshes and publishes its keys from the database; the apps verify offline.
            wait_for(
                lambda: answered(traffic, "sign_in", 200) + answered(traffic, "refresh", 200) >= 6,
                seconds=10,
                what="sign-ins and refreshes with Redis down",
            )
            assert verifies(stack, access)
            # A relying worker starting during the outage fetches the JWKS from the issuer instead of failing.
            stack.stop("orders")
            stack.start("orders", workers=2)
            assert verifies(stack, access)
            wait_for(lambda: answered(traffic, "order_place", 201) >= 1, seconds=10, what="an order with Redis down")
            assert_clean(traffic)
        finally:
            redis.start()
        wait_until_served(stack)
        assert_clean(traffic)
    balanced(traffic)


def test_postgres_connections_killed(faults, balanced):
    stack, _redis, databases, postgres_url = faults
    access = stack.token("bob")["access"]
    with Traffic(stack) as traffic:
        for _ in range(3):
            assert terminate_connections(postgres_url, database_names(databases)) > 0
            time.sleep(0.3)  # traffic runs between the kills
        assert verifies(stack, access)
        wait_until_served(stack, seconds=5)
        assert_clean(traffic)
    balanced(traffic)


def test_database_down_is_a_503_with_retry_after(faults, balanced):
    stack, _redis, databases, postgres_url = faults
    names = database_names(databases)
    access = stack.token("bob")["access"]
    with Traffic(stack) as traffic:
        allow_connections(postgres_url, names, allowed=False)
        try:
            terminate_connections(postgres_url, names)
            wait_for(
                lambda: answered(traffic, "refresh", 503) and answered(traffic, "orders_list", 503),
                seconds=10,
                what="503s from the issuer and orders",
            )
            api = requests.get(f"{stack.internal['orders']}/api/orders/", headers=bearer(access), timeout=5)
            assert api.status_code == 503 and api.headers["Retry-After"].isdigit()
            assert api.json() == {"detail": api.json()["detail"], "code": "service_unavailable"}
            page = requests.get(
                f"{stack.internal['products']}/api/products/",
                headers={**bearer(access), "Accept": "text/html,application/xhtml+xml"},
                timeout=5,
            )
            assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html")
            assert "Traceback" not in page.text and "products" in page.text
            signed_in = requests.post(
                f"{stack.internal['issuer']}/api/token/", json={"username": "bob", "password": "x"}, timeout=5
            )
            assert signed_in.status_code == 503 and "Retry-After" in signed_in.headers
        finally:
            allow_connections(postgres_url, names, allowed=True)
        # The sites recover by themselves: no restart, no dead pooled connection reused.
        wait_until_served(stack)
        assert_clean(traffic)
    balanced(traffic)


def test_an_issuer_worker_killed(faults, balanced):
    stack, _redis, _databases, _postgres = faults
    access = stack.token("bob")["access"]
    master = stack.processes["issuer"]
    with Traffic(stack) as traffic:
        killed = gunicorn_workers(master)[0]
        os.kill(killed, signal.SIGKILL)
        wait_for(
            lambda: len(gunicorn_workers(master)) == 2 and killed not in gunicorn_workers(master),
            seconds=10,
            what="a replacement worker",
        )
        assert verifies(stack, access)
        wait_until_served(stack, seconds=10)
        assert_clean(traffic)
    balanced(traffic)


def test_the_issuer_hung(faults, balanced):
    stack, _redis, _databases, _postgres = faults
    access = stack.token("bob")["access"]
    master = stack.processes["issuer"]
    with Traffic(stack) as traffic:
        signal_site(master, signal.SIGSTOP)
        try:
            with pytest.raises(requests.Timeout):
                requests.post(f"{stack.internal['issuer']}/api/token/refresh/", json={"refresh": "x"}, timeout=1)
            # The apps verify offline, from the keys and the revocation list they hold.
            for _ in range(5):
                assert verifies(stack, access)
        finally:
            signal_site(master, signal.SIGCONT)
        wait_until_served(stack)
        assert_clean(traffic)
    balanced(traffic)


def test_products_workers_killed_while_orders_are_placed(faults, balanced):
    stack, _redis, _databases, _postgres = faults
    access = stack.token("bob")["access"]
    master = stack.processes["products"]
    with Traffic(stack, order_every=1) as traffic:
        wait_for(lambda: answered(traffic, "order_place", 201) >= 3, seconds=10, what="orders placed")
        for _ in range(3):
            for pid in gunicorn_workers(master):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)  # orders are placed between the kills
        wait_for(lambda: len(gunicorn_workers(master)) == 2, seconds=10, what="replacement workers")
        assert verifies(stack, access)
        wait_until_served(stack)
        assert_clean(traffic)
    balanced(traffic)
