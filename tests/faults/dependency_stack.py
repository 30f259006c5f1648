"""The production profile for fault tests: the three sites under gunicorn (2 workers a site) on fresh
PostgreSQL databases and a private Redis (a redis-server of the stack's own on a free loopback port, so
killing it leaves the shared one alone), with traffic flowing from a few threads while a fault is injected,
and the books checked afterwards: every order answered 201 exists, no order exists that was not, and
products' stock moved by exactly the ordered quantities, with no reservation left orphaned once products'
grace period has passed and its sweep has run."""

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests

from tests.conftest import services_required
from tests.servers import (
    DEMO_PASSWORD,
    Stack,
    free_port,
    fresh_postgres_databases,
    prepare_stack,
    stop_process,
    wait_for_port,
)

# A client's patience: a request not answered in this time is a timeout (never a 500).
CLIENT_TIMEOUT_SECONDS = 5
# How long service may take to come back after a fault ends.
RECOVERY_SECONDS = 20
# What the traffic orders, one at a time.
ORDER = {"sku": "sticker-pack", "quantity": 1}
# orders gives up on products after a second, and products keeps an unconfirmed reservation for four (longer
# than placing an order takes), so the books can be checked a few seconds after the traffic stops.
GRACE_SECONDS = 4
ORDERS_ENV = {"ORDERS_PRODUCTS_TIMEOUT_SECONDS": "1", "PRODUCTS_RESERVATION_GRACE_SECONDS": str(GRACE_SECONDS)}


class PrivateRedis:
    """A redis-server for one stack on a free loopback port, without persistence: killed, it loses everything,
    as a crashed cache does."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def require_redis_server() -> None:
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed"
        if services_required():
            pytest.fail(f"REQUIRE_SERVICES=1 but {message}")
        pytest.skip(f"{message}; set REQUIRE_SERVICES=1 to make this a failure")


@contextlib.contextmanager
def production_stack(data_dir: Path, postgres_url: str, *, extra_env: dict[str, str] | None = None) -> Iterator:
    """(stack, private redis, the sites' database URLs), running; everything stopped and dropped afterwards."""
    require_redis_server()
    redis = PrivateRedis(data_dir)
    with contextlib.ExitStack() as resources:
        databases = resources.enter_context(fresh_postgres_databases(postgres_url))
        redis.start()
        resources.callback(redis.stop)
        env = {
            **databases,
            "REDIS_URL": redis.url,
            "SSO_REVOCATION_REFRESH_SECONDS": "1",
            **ORDERS_ENV,
            **(extra_env or {}),
        }
        stack = prepare_stack(data_dir, extra_env=env)
        resources.callback(stack.stop_all)
        stack.start_all(workers={"issuer": 2, "orders": 2, "products": 2})
        yield stack, redis, databases


def database_names(databases: dict[str, str]) -> list[str]:
    return [url.rsplit("/", 1)[1] for url in databases.values()]


def terminate_connections(postgres_url: str, names: list[str]) -> int:
    """pg_terminate_backend on every connection to these databases (the shared server keeps running)."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
            (names,),
        ).fetchall()
    return len(rows)


def allow_connections(postgres_url: str, names: list[str], *, allowed: bool) -> None:
    """Refuse (or allow again) new connections to these databases: the sites see a database that is down."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        for name in names:
            connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if allowed else "false"}')


def gunicorn_workers(master: subprocess.Popen) -> list[int]:
    """The worker processes of a gunicorn master, from /proc."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def signal_site(master: subprocess.Popen, sig: signal.Signals) -> None:
    """Send a signal to a site's master and every worker (SIGSTOP: the whole site hangs)."""
    for pid in [master.pid, *gunicorn_workers(master)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Outcomes:
    """What clients saw, by (operation, status); a request with no answer is status "timeout" or "error"."""

    seen: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    retry_after_missing: int = 0

    def record(self, operation: str, response: requests.Response | None, failure: str | None = None) -> None:
        with self.lock:
            if response is None:
                self.seen[(operation, failure)] += 1
                return
            self.seen[(operation, response.status_code)] += 1
            if response.status_code == 503 and "Retry-After" not in response.headers:
                self.retry_after_missing += 1

    def server_errors(self) -> dict:
        """Every 5xx but a 503: a 500 (or a proxy's 502) is never an acceptable answer."""
        return {key: n for key, n in self.seen.items() if isinstance(key[1], int) and key[1] >= 500 and key[1] != 503}

    def clear(self) -> Counter:
        with self.lock:
            seen, self.seen, self.retry_after_missing = self.seen, Counter(), 0
        return seen


class Traffic:
    """A few threads, each a person signing in, then refreshing, listing orders and products and now and then
    placing an order, over and over, until stopped. Each order is sent with an Idempotency-Key of its own and
    retried with that key, as a careful client does, until it has a definite answer: `placed` maps each key
    to its order's id once answered 201, `refused` to the status of a definite refusal (a 4xx but 401)."""

    def __init__(self, stack: Stack, *, threads: int = 3, order_every: int = 8) -> None:
        self.stack = stack
        self.outcomes = Outcomes()
        self.placed: dict[str, int] = {}
        self.refused: dict[str, int] = {}
        self.undecided: list[str] = []
        self._lock = threading.Lock()
        self._order_every = order_every
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> "Traffic":
        """Start the threads, and return once traffic flows (a few refreshes answered), before any fault."""
        for thread in self._threads:
            thread.start()
        wait_for(lambda: self.outcomes.seen[("refresh", 200)] >= 3, seconds=10, what="traffic")
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=CLIENT_TIMEOUT_SECONDS * 3)

    def _call(self, session: requests.Session, operation: str, method: str, site: str, path: str, **send):
        """One request, its outcome recorded; the response, or None when none came."""
        try:
            response = session.request(
                method, f"{self.stack.internal[site]}{path}", timeout=CLIENT_TIMEOUT_SECONDS, **send
            )
        except requests.Timeout:
            self.outcomes.record(operation, None, "timeout")
            return None
        except requests.ConnectionError:
            self.outcomes.record(operation, None, "error")
            return None
        self.outcomes.record(operation, response)
        return response

    def _run(self) -> None:
        session = requests.Session()
        tokens: dict | None = None
        rounds = 0
        while not self._stop.is_set():
            rounds += 1
            if tokens is None:
                person = {"username": "bob", "password": DEMO_PASSWORD}
                signed_in = self._call(session, "sign_in", "POST", "issuer", "/api/token/", json=person)
                if signed_in is None or signed_in.status_code != 200:
                    self._stop.wait(0.2)
                    continue
                tokens = signed_in.json()
            refresh = {"refresh": tokens["refresh"]}
            refreshed = self._call(session, "refresh", "POST", "issuer", "/api/token/refresh/", json=refresh)
            if refreshed is not None and refreshed.status_code == 200:
                tokens = refreshed.json()
            elif refreshed is not None and refreshed.status_code == 401:
                tokens = None  # the session ended (a lost refresh answer): sign in again
                continue
            headers = bearer(tokens["access"])
            self._call(session, "orders_list", "GET", "orders", "/api/orders/", headers=headers)
            self._call(session, "products_list", "GET", "products", "/api/products/", headers=headers)
            with self._lock:
                key = self.undecided.pop(0) if self.undecided else None
            if key is None and rounds % self._order_every == 0:
                key = str(uuid.uuid4())
            if key is not None:
                self.place(session, tokens["access"], key)
            self._stop.wait(0.05)

    def place(self, session: requests.Session, access: str, key: str) -> bool:
        """Send (or resend) the order under `key`; True once its answer is definite."""
        headers = {**bearer(access), "Idempotency-Key": key}
        response = self._call(session, "order_place", "POST", "orders", "/api/orders/", json=ORDER, headers=headers)
        with self._lock:
            if response is not None and response.status_code == 201:
                self.placed[key] = response.json()["id"]
            elif response is not None and 400 <= response.status_code < 500 and response.status_code != 401:
                self.refused[key] = response.status_code
            else:  # no answer, a 5xx, or an access token that expired meanwhile: try again with the same key
                self.undecided.append(key)
                return False
        return True

    def settle(self, *, seconds: float = RECOVERY_SECONDS) -> None:
        """Once stopped: resend every order still without a definite answer until it has one."""
        session = requests.Session()
        deadline = time.monotonic() + seconds
        access = self.stack.token("bob")["access"] if self.undecided else ""
        while self.undecided:
            if time.monotonic() > deadline:
                raise AssertionError(f"orders without a definite answer after {seconds} s: {self.undecided}")
            if not self.place(session, access, self.undecided.pop(0)):
                time.sleep(0.2)


def wait_until_served(stack: Stack, *, seconds: float = RECOVERY_SECONDS) -> float:
    """Poll until a full round (sign in, refresh, verify at both apps) succeeds; how long it took."""
    started = time.monotonic()
    deadline = started + seconds
    last = "nothing tried"
    while time.monotonic() < deadline:
        try:
            tokens = stack.token("bob")
            refreshed = requests.post(
                f"{stack.internal['issuer']}/api/token/refresh/", json={"refresh": tokens["refresh"]}, timeout=5
            )
            refreshed.raise_for_status()
            access = refreshed.json()["access"]
            for site, path in (("orders", "/api/orders/"), ("products", "/api/products/")):
                requests.get(f"{stack.internal[site]}{path}", headers=bearer(access), timeout=5).raise_for_status()
            return time.monotonic() - started
        except (requests.RequestException, KeyError, ValueError) as e:
            last = f"{type(e).__name__}: {e}"
        time.sleep(0.2)
    raise AssertionError(f"service did not return within {seconds} s: {last}")


def wait_for(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not seen within {seconds} s")


# ---- The books: orders' and products' databases after the traffic ------------------------------------


@dataclass
class Books:
    """What the two databases hold of the traffic's product: orders past `since` (id: status, quantity),
    the quantity pending orders hold, products' stock, and its reservations neither released nor confirmed
    (`unsettled`) and confirmed but not released (`held`)."""

    orders: dict[int, tuple[str, int]]
    pending: int
    stock: int
    unsettled: int
    held: int


def books(databases: dict[str, str], *, since: int = 0, sku: str = ORDER["sku"]) -> Books:
    with psycopg.connect(databases["ORDERS_DATABASE_URL"]) as orders:
        rows = orders.execute(
            "SELECT o.id, o.status, COALESCE(SUM(l.quantity), 0) FROM orders_order o "
            "LEFT JOIN orders_orderline l ON l.order_id = o.id AND l.sku = %s WHERE o.id > %s GROUP BY o.id",
            (sku, since),
        ).fetchall()
        (pending,) = orders.execute(
            "SELECT COALESCE(SUM(l.quantity), 0) FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id "
            "WHERE o.status = 'pending' AND l.sku = %s",
            (sku,),
        ).fetchone()
    with psycopg.connect(databases["PRODUCTS_DATABASE_URL"]) as products:
        stock, unsettled, held = products.execute(
            "SELECT p.stock, "
            "COALESCE(SUM(r.quantity) FILTER (WHERE r.released_at IS NULL AND r.confirmed_at IS NULL), 0), "
            "COALESCE(SUM(r.quantity) FILTER (WHERE r.released_at IS NULL AND r.confirmed_at IS NOT NULL), 0) "
            "FROM products_product p LEFT JOIN products_reservation r ON r.product_id = p.id "
            "WHERE p.sku = %s GROUP BY p.id",
            (sku,),
        ).fetchone()
    return Books({id: (status, quantity) for id, status, quantity in rows}, pending, stock, unsettled, held)


def last_order_id(databases: dict[str, str]) -> int:
    with psycopg.connect(databases["ORDERS_DATABASE_URL"]) as orders:
        return orders.execute("SELECT COALESCE(MAX(id), 0) FROM orders_order").fetchone()[0]


def assert_books_balance(stack: Stack, traffic: Traffic, databases: dict[str, str], *, since: int, stock: int) -> None:
    """After the traffic (and the fault) ended: every order answered 201 exists and is pending, no order exists
    that was not answered 201, and once the cron jobs have run past products' grace period, no reservation is
    left unsettled and products' stock is `stock` (what it was before any order) less exactly what the pending
    orders hold."""
    traffic.settle()
    assert set(traffic.refused.values()) <= {409}, traffic.refused  # out of stock is the only fair refusal
    # orders confirms what it could not confirm at the time; products then sweeps what nobody confirmed.
    stack.manage("orders", "expire_pending_orders")
    time.sleep(GRACE_SECONDS + 1)
    stack.manage("products", "release_stale_reservations")
    stack.manage("orders", "expire_pending_orders")
    after = books(databases, since=since)
    answered = {order_id: (after.orders.get(order_id) or ("missing", 0)) for order_id in traffic.placed.values()}
    assert answered == dict.fromkeys(traffic.placed.values(), ("pending", ORDER["quantity"])), answered
    assert set(after.orders) == set(traffic.placed.values()), "an order exists that no client was told of"
    assert after.unsettled == 0, "a reservation left orphaned past the grace period"
    assert after.held == after.pending, "products holds exactly what the pending orders hold"
    assert after.stock == stock - after.pending, "stock moved by exactly the ordered quantities"
