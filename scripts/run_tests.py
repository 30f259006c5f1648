"""`make test`: run every test group under its site's settings module and print one total.

A Django process has one settings module, and each site is its own settings module, so the suite runs as
one pytest process per group. Extra arguments are passed to every pytest run (e.g. `-k refresh -x`).

The groups are independent (own databases, own temp dirs, free ports), so TEST_JOBS of them (default: two, or
one on a one-core machine) run at once, the longest first; each group's output is kept and printed whole when
it ends. The runs on PostgreSQL and Redis go one at a time: a test that clears its cache clears the whole
Redis database, which the other groups' servers would be using.

With REQUIRE_SERVICES=1 (CI) or SSO_TEST_SERVICES=1, the groups in SERVICES_PATHS run a second time on the
production profile's storage, PostgreSQL (DATABASE_URL) and Redis (REDIS_URL); unreachable services fail
the run rather than skip it. That run leaves out the tests marked storage_independent (`--storage-only`,
tests/conftest.py): what they check cannot depend on the backend, so a second run would repeat the first."""

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (settings module, test directories or files), the longest first, so that running several at a time packs
# well. Tests that start their own servers run under the issuer's. The browser tests are the longest by far,
# mostly waiting on Chromium and servers, so they are three groups.
GROUPS = [
    (
        "settings.issuer",
        [
            "tests/browser/test_relying_pages.py",
            "tests/browser/test_second_factor.py",
            "tests/browser/test_localhost.py",
        ],
    ),
    ("settings.issuer", ["tests/browser/test_browser_sso.py", "tests/browser/test_issuer_pages.py"]),
    (
        "settings.issuer",
        ["tests/browser/test_own_site.py", "tests/browser/test_cross_domain.py", "tests/browser/test_passkeys.py"],
    ),
    ("settings.issuer", ["tests/revocation"]),
    ("settings.issuer", ["tests/integration"]),
    ("settings.issuer", ["tests/security"]),
    ("settings.issuer", ["tests/issuer"]),
    ("settings.orders", ["tests/sso_client", "tests/orders"]),
    ("settings.issuer", ["tests/oidc_clients"]),
    ("settings.issuer", ["tests/faults"]),
    ("settings.issuer", ["tests/scale"]),
    ("settings.products", ["tests/products"]),
]

# Run again on PostgreSQL and Redis: the groups that test against the settings' own database and cache, and
# those whose real-server stacks move to PostgreSQL and Redis too (SSO_TEST_SERVICES=1), less their tests
# marked storage_independent. tests/revocation and tests/scale ask for PostgreSQL and Redis themselves where
# it matters (the refresh race, shared caches).
SERVICES_PATHS = {
    "tests/issuer",
    "tests/sso_client",
    "tests/orders",
    "tests/products",
    "tests/security",
    # Their stacks (tests/servers.running_stack) move to fresh PostgreSQL databases and Redis.
    "tests/integration",
    "tests/browser",
    # Faults injected into the production profile (PostgreSQL, a Redis of its own): the run on the services only.
    "tests/faults",
}
# Left out of the run on the embedded default: there is no dependency to fail.
SERVICES_ONLY = {"tests/faults"}
SERVICES_ARGS = ["--storage-only"]
# The PostgreSQL and Redis the tests use (TEST_POSTGRES_URL, TEST_REDIS_URL), as tests/servers.py reads them.
sys.path.insert(0, str(ROOT))
from tests.servers import TEST_POSTGRES_URL as POSTGRES_URL  # noqa: E402
from tests.servers import TEST_REDIS_URL as REDIS_URL  # noqa: E402


def under(path: str, directories: set[str]) -> bool:
    """Whether a group's path (a directory or a file) is one of the directories or inside one."""
    return any(path == d or path.startswith(d + "/") for d in directories)


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


def jobs() -> int:
    return max(1, int(os.environ.get("TEST_JOBS") or min(2, os.cpu_count() or 1)))


class Run:
    """One group's pytest process, its output going to a file until it is printed whole."""

    def __init__(self, index: int, settings_module: str, paths: list[str], extra_env: dict, tmp: Path) -> None:
        self.index, self.settings_module, self.paths, self.extra_env = index, settings_module, paths, extra_env
        self.own_args = SERVICES_ARGS if extra_env else []
        self.report = tmp / f"group{index}.xml"
        self.output = tmp / f"group{index}.out"
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self.cpu = 0.0

    def start(self, extra_args: list[str]) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            # Every group's real-server stacks copy their SQLite databases from one set of templates (tests/servers.py).
            "SSO_TEST_TEMPLATE_DIR": str(self.report.parent / "stack-templates"),
            **self.extra_env,
        }
        with open(self.output, "wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pytest", *self.paths, f"--junitxml={self.report}", *self.own_args, *extra_args],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.started = time.monotonic()

    def ended(self) -> bool:
        """Whether the group's process has ended; its CPU time (its own and that of the processes it waited
        for: servers, Chromium) is then in self.cpu."""
        pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.cpu = usage.ru_utime + usage.ru_stime
        return True

    def finish(self) -> int:
        on = " on PostgreSQL and Redis" if self.extra_env else ""
        seconds = time.monotonic() - self.started
        print(
            f"\n=== {' '.join(self.paths)} (DJANGO_SETTINGS_MODULE={self.settings_module}){on}: "
            f"{seconds:.0f} s, {self.cpu:.0f} s of CPU"
        )
        print(self.output.read_text(errors="replace"), end="", flush=True)
        return self.process.returncode


def run_all(runs: list[Run], extra_args: list[str], *, at_once: int) -> int:
    """Run the groups, `at_once` at a time; the worst exit code (5, nothing collected after -k, is fine)."""
    worst = 0
    waiting, running = list(runs), []
    while waiting or running:
        while waiting and len(running) < at_once:
            run = waiting.pop(0)
            run.start(extra_args)
            running.append(run)
        time.sleep(0.2)
        for run in [r for r in running if r.ended()]:
            running.remove(run)
            code = run.finish()
            if code not in (0, 5):
                worst = worst or code
    return worst


def main(extra_args: list[str]) -> int:
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    worst = 0
    started = time.monotonic()
    problem = services_unreachable() if services_wanted() else None
    if problem:
        print(f"\nREQUIRE_SERVICES=1 (or SSO_TEST_SERVICES=1) but {problem}", flush=True)
        worst = 1
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "stack-templates").mkdir()
        embedded = [
            (index, module, [p for p in paths if not under(p, SERVICES_ONLY)], {})
            for index, (module, paths) in enumerate(GROUPS)
        ]
        services = []
        if services_wanted() and not problem:
            services = [
                (len(GROUPS) + index, module, [p for p in paths if under(p, SERVICES_PATHS)], services_env(index))
                for index, (module, paths) in enumerate(GROUPS)
            ]
        embedded, services = (
            [
                Run(index, module, existing, env, Path(tmp))
                for index, module, paths, env in runs
                if (existing := [p for p in paths if (ROOT / p).exists()])
            ]
            for runs in (embedded, services)
        )
        passes = []
        for name, runs, at_once in (("embedded default", embedded, jobs()), ("PostgreSQL and Redis", services, 1)):
            if runs:
                pass_started = time.monotonic()
                worst = run_all(runs, extra_args, at_once=at_once) or worst
                passes.append(f"{name} {time.monotonic() - pass_started:.0f} s")
        for run in embedded + services:
            if run.report.exists():
                for suite in ET.parse(run.report).getroot().iter("testsuite"):
                    tests, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
                    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
                    totals["passed"] += tests - skipped - failed
                    totals["failed"] += failed
                    totals["skipped"] += skipped
    print(f"\ntotal: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    print(f"wall time: {time.monotonic() - started:.0f} s ({', '.join(passes)})")
    if problem:
        print(f"FAILED: the suite did not run on PostgreSQL and Redis: {problem}")
    if totals["passed"] == 0 and worst == 0:
        return 1
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
