"""`make test`: run every test group under its site's settings module and print one total.

A Django process has one settings module, and each site is its own settings module, so the suite runs as
one pytest process per group. Extra arguments are passed to every pytest run (e.g. `-k refresh -x`).

With REQUIRE_SERVICES=1 (CI) or SSO_TEST_SERVICES=1, the groups in SERVICES_PATHS run a second time on the
production profile's storage, PostgreSQL (DATABASE_URL) and Redis (REDIS_URL); unreachable services fail
the run rather than skip it."""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (settings module, test directories). Tests that start their own servers run under the issuer's.
GROUPS = [
    ("settings.issuer", ["tests/issuer"]),
    ("settings.orders", ["tests/sso_client", "tests/orders"]),
    ("settings.products", ["tests/products"]),
    ("settings.issuer", ["tests/integration"]),
    ("settings.issuer", ["tests/security"]),
    ("settings.issuer", ["tests/browser"]),
    ("settings.issuer", ["tests/scale"]),
    ("settings.issuer", ["tests/revocation"]),
]

# Run again on PostgreSQL and Redis: the groups that test against the settings' own database and cache, and
# those whose real-server stacks move to PostgreSQL and Redis too (SSO_TEST_SERVICES=1). tests/revocation and
# tests/scale ask for PostgreSQL and Redis themselves where it matters (the refresh race, shared caches).
SERVICES_PATHS = {
    "tests/issuer",
    "tests/sso_client",
    "tests/orders",
    "tests/products",
    "tests/security",
    # Their stacks (tests/servers.running_stack) move to fresh PostgreSQL databases and Redis.
    "tests/integration",
    "tests/browser",
}
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def services_wanted() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1" or os.environ.get("SSO_TEST_SERVICES") == "1"


def services_unreachable() -> str | None:
    """Why PostgreSQL or Redis cannot be used, or None when both answer."""
    import psycopg
    import redis

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as connection:
            connection.execute("select 1")
    except psycopg.Error as e:
        return f"PostgreSQL at {POSTGRES_URL}: {type(e).__name__}: {e}"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as e:
        return f"Redis at {REDIS_URL}: {type(e).__name__}: {e}"
    return None


def services_env(index: int) -> dict[str, str]:
    """The environment of one group's run on the services. Each group's database has its own name (pytest-django
    creates `test_<name>` from it), so groups, and runs on other checkouts, never share one."""
    base = POSTGRES_URL.rsplit("/", 1)[0]
    return {
        "DATABASE_URL": f"{base}/sso_{index}_{os.getpid()}",
        "REDIS_URL": REDIS_URL,
        "SSO_TEST_SERVICES": "1",
        "REQUIRE_SERVICES": "1",
    }


def main(extra_args: list[str]) -> int:
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    worst = 0
    runs = [(index, settings_module, paths, {}) for index, (settings_module, paths) in enumerate(GROUPS)]
    problem = services_unreachable() if services_wanted() else None
    if problem:
        print(f"\nREQUIRE_SERVICES=1 (or SSO_TEST_SERVICES=1) but {problem}", flush=True)
        worst = 1
    elif services_wanted():
        runs += [
            (len(GROUPS) + index, settings_module, [p for p in paths if p in SERVICES_PATHS], services_env(index))
            for index, (settings_module, paths) in enumerate(GROUPS)
        ]
    with tempfile.TemporaryDirectory() as tmp:
        for index, settings_module, paths, extra_env in runs:
            paths = [p for p in paths if (ROOT / p).exists()]
            if not paths:
                continue
            report = Path(tmp) / f"group{index}.xml"
            on = " on PostgreSQL and Redis" if extra_env else ""
            print(f"\n=== {' '.join(paths)} (DJANGO_SETTINGS_MODULE={settings_module}){on}", flush=True)
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, **extra_env}
            code = subprocess.call(
                [sys.executable, "-m", "pytest", *paths, f"--junitxml={report}", *extra_args], cwd=ROOT, env=env
            )
            if code not in (0, 5):  # 5: nothing collected after -k filtering
                worst = worst or code
            if report.exists():
                for suite in ET.parse(report).getroot().iter("testsuite"):
                    tests, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
                    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
                    totals["passed"] += tests - skipped - failed
                    totals["failed"] += failed
                    totals["skipped"] += skipped
    print(f"\ntotal: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    if problem:
        print(f"FAILED: the suite did not run on PostgreSQL and Redis: {problem}")
    if totals["passed"] == 0 and worst == 0:
        return 1
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
