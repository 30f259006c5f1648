"""Fixtures shared by every group."""

import os
import time
from collections import Counter

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests import keys
from tests.servers import TEST_POSTGRES_URL, TEST_REDIS_URL


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


# ---- What the run on PostgreSQL and Redis repeats ----------------------------------------------------


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--storage-only",
        action="store_true",
        help="leave out the tests marked storage_independent (scripts/run_tests.py's run on PostgreSQL and Redis)",
    )


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "storage_independent: what it checks cannot depend on the database or cache backend (token shapes "
        "refused before any query, subprocesses with an environment of their own), so --storage-only leaves "
        "it out",
    )

    _scan_static_files_once()


def _scan_static_files_once() -> None:
    """Every test client builds the site's middleware, and WhiteNoise's then lists and stats every static
    file the apps hold (the admin's, DRF's: about 170 files, 30 ms): a quarter of tests/issuer's time. What
    the scan finds depends only on the settings it reads, so a test process scans once per such settings
    and later middleware take the same table."""
    from django.conf import settings
    from whitenoise.middleware import WhiteNoiseMiddleware

    scan = WhiteNoiseMiddleware.add_files_from_finders
    tables: dict[str, dict] = {}

    def add_files_from_finders(self) -> None:
        names = ["DEBUG", "STATIC_URL", "INSTALLED_APPS", "STATICFILES_DIRS", "STATICFILES_FINDERS"]
        names += [name for name in dir(settings) if name.startswith("WHITENOISE_")]
        key = repr([(name, getattr(settings, name, None)) for name in names])
        if key not in tables:
            before = dict(self.files)
            scan(self)
            tables[key] = {url: found for url, found in self.files.items() if before.get(url) is not found}
        self.files.update(tables[key])

    WhiteNoiseMiddleware.add_files_from_finders = add_files_from_finders


def pytest_collection_modifyitems(config, items) -> None:
    if not config.getoption("--storage-only"):
        return
    independent = [item for item in items if item.get_closest_marker("storage_independent")]
    if independent:
        config.hook.pytest_deselected(items=independent)
        items[:] = [item for item in items if not item.get_closest_marker("storage_independent")]


# ---- What a failing test over real servers shows ----------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report carries the log tails of the stacks it ran on (tests/servers.py: running, or
    stopped while it ran), so a failure in CI shows what the servers said, not only what the client saw."""
    report = yield
    from tests.servers import started_stacks

    if report.failed:
        for stack in started_stacks:
            if stack.stopped_at is None or stack.stopped_at >= call.start:
                report.sections.append((f"server logs ({stack.data_dir})", stack.log_tails()))
    if call.when == "teardown":
        started_stacks[:] = [stack for stack in started_stacks if stack.stopped_at is None]
    return report


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


# Generated RSA keys, by (public exponent, size), shared by every test of this process.
_KEY_POOL: dict[tuple[int, int], list[rsa.RSAPrivateKey]] = {}
_generate_private_key = rsa.generate_private_key


@pytest.fixture(autouse=True)
def _pooled_rsa_keys(monkeypatch):
    """A 2048-bit RSA key takes 0.1 to 1 s to generate, and the issuer generates one per test (its first
    token, with an empty database). In-process tests draw from a pool instead: within a test every key is a
    new one (a rotation gets a key distinct from the one before, as a test writing a key file does), and the
    next test draws the same keys again. Servers started by tests generate their own, unpooled."""
    drawn: Counter[tuple[int, int]] = Counter()

    def generate_private_key(public_exponent: int, key_size: int, backend=None) -> rsa.RSAPrivateKey:
        shape = (public_exponent, key_size)
        pool = _KEY_POOL.setdefault(shape, [])
        if drawn[shape] == len(pool):
            pool.append(_generate_private_key(public_exponent=public_exponent, key_size=key_size))
        drawn[shape] += 1
        return pool[drawn[shape] - 1]

    monkeypatch.setattr(rsa, "generate_private_key", generate_private_key)


# ---- Real services (PostgreSQL, Redis) -------------------------------------------------------------


def _unavailable(service: str, error: Exception) -> None:
    message = f"{service} is not reachable ({type(error).__name__}: {error})"
    if services_required():
        pytest.fail(f"REQUIRE_SERVICES=1 but {message}")
    pytest.skip(f"{message}; set REQUIRE_SERVICES=1 to make this a failure")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server's URL (its `test` database); skips, or fails under REQUIRE_SERVICES=1."""
    import psycopg

    try:
        with psycopg.connect(TEST_POSTGRES_URL, connect_timeout=3) as connection:
            connection.execute("select 1")
    except psycopg.Error as e:
        _unavailable("PostgreSQL", e)
    return TEST_POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database for tests; skips, or fails under REQUIRE_SERVICES=1."""
    import redis

    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as e:
        _unavailable("Redis", e)
    return TEST_REDIS_URL
