"""Nothing lost when placing an order, over real servers (orders and products under gunicorn): an orders
worker killed between the reservation and its commit, and products hung past orders' timeout, leave stock
that the stale-reservation sweep brings back to exactly the initial stock less the orders that exist; and
concurrent retries with one Idempotency-Key place one order, on SQLite and on PostgreSQL."""

import os
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.servers import (
    GUNICORN,
    ROOT,
    Stack,
    fresh_postgres_databases,
    prepare_stack,
    running_stack,
    stop_process,
    wait_for_port,
)

# orders gives up on products after a second; products sweeps what is unconfirmed after three.
FAULT_ENV = {"ORDERS_PRODUCTS_TIMEOUT_SECONDS": "1", "PRODUCTS_RESERVATION_GRACE_SECONDS": "3"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def place(stack: Stack, token: str, sku: str, quantity: int, key: str | None = None) -> requests.Response:
    headers = bearer(token) | ({"Idempotency-Key": key} if key else {})
    body = {"sku": sku, "quantity": quantity}
    return requests.post(f"{stack.internal['orders']}/api/orders/", json=body, headers=headers, timeout=60)


def stock_of(stack: Stack, token: str, sku: str) -> int:
    response = requests.get(f"{stack.internal['products']}/api/products/{sku}/", headers=bearer(token), timeout=10)
    response.raise_for_status()
    return response.json()["stock"]


def held_by_orders(stack: Stack, token: str, sku: str) -> dict[int, int]:
    """Each of the person's pending orders, by id, and how much of `sku` it holds."""
    response = requests.get(f"{stack.internal['orders']}/api/orders/?page_size=100", headers=bearer(token), timeout=10)
    response.raise_for_status()
    held = {
        order["id"]: sum(line["quantity"] for line in order["lines"] if line["sku"] == sku)
        for order in response.json()["results"]
        if order["status"] == "pending"
    }
    return {order_id: quantity for order_id, quantity in held.items() if quantity}


def sweep_until(stack: Stack, token: str, sku: str, expected: int) -> int:
    """Run the cron command until the stock is `expected` (the grace period has to pass first), or give up
    after a deadline; return the stock last seen."""
    deadline = time.monotonic() + 60
    while True:
        stack.manage("products", "release_stale_reservations")
        stock = stock_of(stack, token, sku)
        if stock == expected or time.monotonic() > deadline:
            return stock


def wait_for(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def workers_of(process: subprocess.Popen) -> list[int]:
    """The gunicorn master's worker processes."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    return [int(pid) for pid in children]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("faults"), extra_env=FAULT_ENV) as stack:
        yield stack


def start_orders_that_crash_after_reserving(stack: Stack, marker: Path) -> subprocess.Popen:
    """orders on its usual port, from the test-only entry point tests.faults.crash_after_reserve_wsgi."""
    stack.stop("orders")
    port = int(stack.internal["orders"].rsplit(":", 1)[1])
    process = subprocess.Popen(
        [GUNICORN, "tests.faults.crash_after_reserve_wsgi:application", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", "1", "--threads", "4", "--log-level", "warning"],
        cwd=ROOT,
        env={**stack.env, "DJANGO_SETTINGS_MODULE": "settings.orders", "FAULT_TEST_CRASH_MARKER": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=open(stack.data_dir / f"orders-crashing-{port}.log", "ab"),
    )
    wait_for_port(port, process)
    return process


def test_an_orders_worker_killed_between_reserving_and_committing_loses_no_stock(stack, tmp_path):
    bob = stack.token("bob")["access"]
    initial = stock_of(stack, bob, "mug-blue")
    orders_before = held_by_orders(stack, bob, "mug-blue")
    marker = tmp_path / "reserved"
    crashing = start_orders_that_crash_after_reserving(stack, marker)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            attempt = pool.submit(place, stack, bob, "mug-blue", 3)
            wait_for(marker.exists, "the reservation")
            os.kill(int(marker.read_text()), signal.SIGKILL)
            with pytest.raises(requests.ConnectionError):
                attempt.result()
    finally:
        stop_process(crashing)
    stack.start("orders")
    assert held_by_orders(stack, bob, "mug-blue") == orders_before, "the order was never committed"
    assert stock_of(stack, bob, "mug-blue") == initial - 3, "its reservation is held at products"

    placed = place(stack, bob, "mug-blue", 2)
    assert placed.status_code == 201, placed.text
    held = sum(held_by_orders(stack, bob, "mug-blue").values()) - sum(orders_before.values())
    assert held == 2
    assert sweep_until(stack, bob, "mug-blue", initial - 2) == initial - 2
    stack.manage("products", "release_stale_reservations")
    assert stock_of(stack, bob, "mug-blue") == initial - 2, "the confirmed order keeps its stock; no double release"


def test_products_hung_past_orders_timeout_loses_no_stock(stack):
    bob = stack.token("bob")["access"]
    initial = stock_of(stack, bob, "tshirt-logo")
    orders_before = held_by_orders(stack, bob, "tshirt-logo")
    assert place(stack, bob, "sticker-pack", 1).status_code == 201  # orders holds a service token now
    hung = workers_of(stack.processes["products"])
    for pid in hung:
        os.kill(pid, signal.SIGSTOP)
    try:
        response = place(stack, bob, "tshirt-logo", 2)
    finally:
        for pid in hung:
            os.kill(pid, signal.SIGCONT)
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "service_unavailable"
    assert held_by_orders(stack, bob, "tshirt-logo") == orders_before
    # products now handles the reservation orders gave up on (and orders' release, in either order).
    assert sweep_until(stack, bob, "tshirt-logo", initial) == initial


@pytest.fixture(scope="module")
def pg_stack(postgres_url, tmp_path_factory):
    """The three sites on fresh PostgreSQL databases, orders and products with two workers each."""
    with fresh_postgres_databases(postgres_url) as database_env:
        stack = prepare_stack(tmp_path_factory.mktemp("faults-pg"), extra_env={**database_env, **FAULT_ENV})
        try:
            stack.start_all(workers={"orders": 2, "products": 2})
            yield stack
        finally:
            stack.stop_all()


@pytest.mark.parametrize("database", ["default", pytest.param("postgresql", marks=pytest.mark.services)])
def test_concurrent_retries_with_one_key_place_one_order(database, request):
    stack = request.getfixturevalue("pg_stack" if database == "postgresql" else "stack")
    bob = stack.token("bob")["access"]
    initial = stock_of(stack, bob, "sticker-pack")
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: place(stack, bob, "sticker-pack", 2, key=key), range(8)))
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses if r.status_code != 201]
    assert all(r.json() == responses[0].json() for r in responses), "every retry got the first answer"
    order_id = responses[0].json()["id"]
    assert held_by_orders(stack, bob, "sticker-pack").get(order_id) == 2
    assert stock_of(stack, bob, "sticker-pack") == initial - 2, "reserved once"
    refused = place(stack, bob, "sticker-pack", 3, key=key)
    assert refused.status_code == 422 and refused.json()["code"] == "idempotency_key_reused"
