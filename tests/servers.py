"""Real servers for tests that cross HTTP: the three sites under gunicorn on loopback, on free ports,
each with its own temporary database. Every server is stopped by its process id when the stack stops.

Migrating and seeding cost seconds a stack, so each test process does them once per kind of stack, into
template databases (SQLite files, or PostgreSQL databases that `CREATE DATABASE ... TEMPLATE` copies), and
every stack starts from its own copy. What depends on the stack itself is then done on the copy the way a
fresh build does it: a signing key of its own (`ensure_signing_key`), and `seed_demo` again for the relying
apps' origins, which name the stack's ports (it leaves existing accounts and secrets as they are)."""

import atexit
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
DEMO_PASSWORD = "sso-test-password"
# seed_demo gives the service client `orders` this secret, and orders presents it.
DEMO_SERVICE_SECRET = "sso-test-service-secret"
SITES = ("issuer", "orders", "products")


def project_variables() -> set[str]:
    """Every environment variable the sites read, as .env.example lists them."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if re.match(r"[A-Z][A-Z0-9_]*=", line)}


# The PostgreSQL and Redis the tests use: tests/conftest.py's fixtures, and the stacks of run_tests.py's second pass.
TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The stacks started in this process and when each was stopped (None: running), so that a failing test's
# report can show the logs of the stacks it ran on (tests/conftest.py).
started_stacks: list["Stack"] = []


@dataclass
class Stack:
    """Three running sites. `url` is each site's public origin, `internal` where a process reaches it."""

    url: dict[str, str]
    internal: dict[str, str]
    env: dict[str, str]
    data_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    stopped_at: float | None = None

    def manage(self, site: str, *args: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args, f"--settings=settings.{site}"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def start(self, site: str, *, workers: int = 1, threads: int = 4, port: int | None = None) -> subprocess.Popen:
        port = port or int(self.internal[site].rsplit(":", 1)[1])
        process = self._launch(site, port=port, workers=workers, threads=threads)
        wait_for_port(port, process)
        self.processes[site] = process
        self._live()
        return process

    def start_all(self, *, workers: dict[str, int] | None = None) -> None:
        """Start the three sites: the issuer first (the apps fetch its keys), then both apps at once."""
        workers = workers or {}
        self.start("issuer", workers=workers.get("issuer", 1))
        for site in SITES[1:]:
            self.processes[site] = self._launch(site, workers=workers.get(site, 1))
        for site in SITES[1:]:
            wait_for_port(self._port(site), self.processes[site])

    def _live(self) -> None:
        self.stopped_at = None
        if not any(stack is self for stack in started_stacks):
            started_stacks.append(self)

    def log_tails(self, lines: int = 40) -> str:
        """The last lines of each server log in the data dir (gunicorn's warnings and the sites' tracebacks)."""
        parts = []
        for path in sorted(self.data_dir.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def _port(self, site: str) -> int:
        return int(self.internal[site].rsplit(":", 1)[1])

    def _launch(self, site: str, *, workers: int = 1, threads: int = 4, port: int | None = None) -> subprocess.Popen:
        port = port or self._port(site)
        return subprocess.Popen(
            [
                GUNICORN,
                "settings.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),  # 1: gunicorn's sync worker
                "--graceful-timeout",
                "2",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**self.env, "DJANGO_SETTINGS_MODULE": f"settings.{site}"},
            stdout=subprocess.DEVNULL,
            stderr=open(self.data_dir / f"{site}-{port}.log", "ab"),
        )

    def stop(self, site: str) -> None:
        process = self.processes.pop(site, None)
        if process is not None:
            stop_process(process)

    def stop_all(self) -> None:
        """The end of the stack: every site at once, and without gunicorn's graceful wait for idle keep-alive
        connections (SIGQUIT), since no test is left to see a request finish. `stop` is the graceful one."""
        processes = [self.processes.pop(site) for site in list(self.processes)]
        self.stopped_at = time.time()
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGQUIT)
        for process in processes:
            stop_process(process)

    def emailed_reset_links(self, *, at_least: int = 1) -> list[str]:
        """The password-reset links mailed so far by a stack with the file-based mail backend in
        `<data_dir>/mail`. The issuer sends after it has answered, so wait (bounded) for the mail."""
        mail_dir = self.data_dir / "mail"
        deadline = time.monotonic() + 10
        while True:
            text = "".join(path.read_text() for path in sorted(mail_dir.glob("*"))) if mail_dir.exists() else ""
            links = re.findall(r"(http\S+/password-reset/\S+/)", text)
            if len(links) >= at_least or time.monotonic() > deadline:
                return links
            time.sleep(0.05)

    def token(self, username: str, **extra) -> dict:
        response = requests.post(
            f"{self.internal['issuer']}/api/token/",
            json={"username": username, "password": DEMO_PASSWORD, **extra},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()


def wait_until(predicate, *, timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll `predicate` until it holds or `timeout` passes: for what another process or thread brings about
    (a server's log line, a revocation reaching an app), never a blind sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    stop_process(process)
    raise RuntimeError(f"server on port {port} did not start")


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def prepare_stack(
    data_dir: Path, *, hosts: dict[str, str] | None = None, extra_env: dict[str, str] | None = None
) -> Stack:
    """Migrate and seed the three sites' databases; start nothing yet. `hosts` gives public host names
    (e.g. sso.example.test) for browser tests; servers still listen on 127.0.0.1 only."""
    hosts = hosts or {}
    ports = {site: free_port() for site in SITES}
    url = {site: f"http://{hosts.get(site, '127.0.0.1')}:{port}" for site, port in ports.items()}
    internal = {site: f"http://127.0.0.1:{port}" for site, port in ports.items()}
    variables = project_variables()
    env = {
        # Nothing of the caller's configuration (its shell, or a .env file the sites would read) reaches a test
        # stack: every project variable is blanked ("empty means the default") unless set below.
        **{k: v for k, v in os.environ.items() if k not in variables and not k.startswith(("DJANGO_", "SSO_"))},
        **dict.fromkeys(variables, ""),
        "SSO_DATA_DIR": str(data_dir),
        "SSO_ISSUER_URL": url["issuer"],
        "ORDERS_URL": url["orders"],
        "PRODUCTS_URL": url["products"],
        "SSO_ISSUER_INTERNAL_URL": internal["issuer"],
        "PRODUCTS_INTERNAL_URL": internal["products"],
        "DJANGO_EXTRA_HOSTS": "127.0.0.1",
        "DEMO_PASSWORD": DEMO_PASSWORD,
        "DEMO_SERVICE_SECRET": DEMO_SERVICE_SECRET,
        "ORDERS_SERVICE_CLIENT_SECRET": DEMO_SERVICE_SECRET,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    stack = Stack(url=url, internal=internal, env=env, data_dir=data_dir)
    if not templates.copy_into(stack, overridden=set(extra_env or ())):
        for site in SITES:
            stack.manage(site, "migrate", "--verbosity=0")
        stack.manage("issuer", "ensure_signing_key")
        stack.manage("issuer", "seed_demo")
        stack.manage("products", "seed_products")
        return stack
    # What a fresh build does after migrating that depends on this stack: its own signing key, and the relying
    # apps' origins (seed_demo again; the accounts and the service client's secret are left as they are).
    stack.manage(
        "issuer",
        "shell",
        "-c",
        "from django.core.management import call_command\n"
        "call_command('ensure_signing_key')\n"
        "call_command('seed_demo')",
    )
    return stack


# Variables that change what a running site does but not what `migrate`, `seed_demo` and `seed_products`
# write: stacks that differ only in these (and in their ports, data dir and databases) share a template. Any
# other difference (DEMO_PASSWORD, say, or a variable added later) gets a template of its own.
RUNTIME_ONLY = {
    "SSO_COOKIE_DOMAIN",
    "SSO_EXTRA_RELYING_ORIGINS",
    "SSO_REVOCATION_REFRESH_SECONDS",
    "SSO_JWKS_MIN_REFETCH_SECONDS",
    "SSO_TRUSTED_PROXY_COUNT",
    "SSO_LOGIN_FAILURES_PER_USERNAME",
    "SSO_LOGIN_FAILURES_PER_IP",
    "SSO_LOGIN_THROTTLE_SECONDS",
    "SSO_PASSWORD_HASHING_CONCURRENCY",
    "SSO_PASSWORD_HASHING_QUEUE",
    "SSO_PASSWORD_HASHING_WAIT_SECONDS",
    "SSO_SIGNING_KEY_FILE",  # read by ensure_signing_key, which every stack runs on its own copy
    "SSO_LOG_FORMAT",
    "SSO_METRICS_TOKEN",
    "EMAIL_BACKEND",
    "EMAIL_FILE_PATH",
    "REDIS_URL",
    "CACHE_KEY_PREFIX",
    "PYTHONUNBUFFERED",
}
# Set by prepare_stack for each stack; a caller's own value for one of them is part of the template's key.
PER_STACK = {
    "SSO_DATA_DIR",
    "SSO_ISSUER_URL",
    "ORDERS_URL",
    "PRODUCTS_URL",
    "SSO_ISSUER_INTERNAL_URL",
    "PRODUCTS_INTERNAL_URL",
}
SEED_COMMANDS = {"issuer": ["seed_demo"], "orders": [], "products": ["seed_products"]}


class Templates:
    """Each site's database migrated and seeded once per kind of stack, then copied. scripts/run_tests.py
    names one directory (SSO_TEST_TEMPLATE_DIR) for every group of a run, so SQLite templates are built once
    a run, not once a test process; a lock file per template keeps two groups from building the same one."""

    def __init__(self) -> None:
        self.built: dict[tuple[str, str], str] = {}  # (site, key) -> SQLite file or PostgreSQL database
        self.lock = threading.Lock()
        self.shared = os.environ.get("SSO_TEST_TEMPLATE_DIR") or None
        self.root: Path | None = Path(self.shared) if self.shared else None
        self.postgres: list[tuple[str, str]] = []  # (server URL, template database) to drop at exit
        atexit.register(self.remove)

    def copy_into(self, stack: Stack, *, overridden: set[str]) -> bool:
        """Give the stack its own copy of each site's template database (building what is missing); False,
        and nothing done, when a site's database is neither the default SQLite file nor PostgreSQL."""
        places = {site: database_place(stack.env, site) for site in SITES}
        if None in places.values():
            return False
        with self.lock:
            wanted = {site: self.key(stack, site, overridden) for site in SITES}
            missing = {site: wanted[site] for site in SITES if (site, wanted[site]) not in self.built}
            if missing:
                with self.claimed(missing, places):
                    self.build(stack, {site: key for site, key in missing.items() if (site, key) not in self.built})
            stack.data_dir.mkdir(parents=True, exist_ok=True)
            for site in SITES:
                template = self.built[(site, wanted[site])]
                if places[site] == "sqlite":
                    for suffix in ("", "-wal", "-shm"):
                        if Path(template + suffix).exists():
                            shutil.copyfile(template + suffix, stack.data_dir / f"{site}.sqlite3{suffix}")
                else:
                    postgres_database_replace(places[site], template=template)
        return True

    def key(self, stack: Stack, site: str, overridden: set[str]) -> str:
        ignored = RUNTIME_ONLY | (PER_STACK - overridden) | {f"{s.upper()}_DATABASE_URL" for s in SITES}
        # What the stack inherits from the test process (PATH, HOME, pytest's PYTEST_CURRENT_TEST naming the
        # test that started it) is not the stack's configuration; the project's variables and the caller's are.
        variables = project_variables()
        inherited = {k for k, v in stack.env.items() if os.environ.get(k) == v and k not in variables}
        kept = {k: v for k, v in stack.env.items() if k not in ignored | inherited and k != "DATABASE_URL"}
        place = database_place(stack.env, site)
        where = place if place == "sqlite" else place.rsplit("/", 1)[0]
        text = repr((site, where, sorted(kept.items())))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def sqlite_directory(self, site: str, key: str) -> Path:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="sso-stack-templates-"))
        return self.root / f"{site}-{key}"

    @contextlib.contextmanager
    def claimed(self, missing: dict[str, str], places: dict[str, str]) -> Iterator[None]:
        """With a shared directory: hold the lock file of each missing SQLite template (in one order, so two
        groups never wait on each other), and take those another group has finished meanwhile."""
        with contextlib.ExitStack() as locks:
            for site in sorted(missing):
                if places[site] != "sqlite" or self.shared is None:
                    continue
                directory = self.sqlite_directory(site, missing[site])
                lock = locks.enter_context(open(f"{directory}.lock", "w"))
                fcntl.flock(lock, fcntl.LOCK_EX)
                if (directory / "ready").exists():
                    self.built[(site, missing[site])] = str(directory / f"{site}.sqlite3")
            yield

    def build(self, stack: Stack, keys: dict[str, str]) -> None:
        """Migrate and seed the missing sites' templates, the sites side by side."""
        # No cache and no key file: the template holds what migrating and seeding write to the database only.
        common = {**stack.env, "REDIS_URL": "", "CACHE_KEY_PREFIX": "", "SSO_SIGNING_KEY_FILE": ""}
        envs: dict[str, dict[str, str]] = {}
        places: dict[str, str] = {}
        for site, key in keys.items():
            place = database_place(stack.env, site)
            if place == "sqlite":
                directory = self.sqlite_directory(site, key)
                shutil.rmtree(directory, ignore_errors=True)  # a build that did not finish
                directory.mkdir()
                envs[site] = {**common, "SSO_DATA_DIR": str(directory)}
                places[site] = str(directory / f"{site}.sqlite3")
            else:
                name = f"sso_template_{site}_{key}_{uuid.uuid4().hex[:6]}"
                with postgres_admin(place) as connection:
                    connection.execute(f'CREATE DATABASE "{name}"')
                self.postgres.append((place, name))
                envs[site] = {**common, f"{site.upper()}_DATABASE_URL": f"{place.rsplit('/', 1)[0]}/{name}"}
                places[site] = name
        builders = [
            subprocess.Popen(
                [PYTHON, "-c", BUILD_SCRIPT, site, *SEED_COMMANDS[site]],
                cwd=ROOT,
                env=envs[site],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for site in keys
        ]
        for site, builder in zip(keys, builders, strict=True):
            output, _ = builder.communicate()
            if builder.returncode != 0:
                raise RuntimeError(f"building the {site} template failed:\n{output}")
        for site, key in keys.items():
            self.built[(site, key)] = places[site]
            if database_place(stack.env, site) == "sqlite":
                (self.sqlite_directory(site, key) / "ready").touch()

    def remove(self) -> None:
        if self.root is not None and self.shared is None:
            shutil.rmtree(self.root, ignore_errors=True)
        for server_url, name in self.postgres:
            with contextlib.suppress(Exception), postgres_admin(server_url) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# One Django process per site builds its template: migrate, then that site's seed commands.
BUILD_SCRIPT = """
import os, sys
site, *seeds = sys.argv[1:]
os.environ["DJANGO_SETTINGS_MODULE"] = f"settings.{site}"
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
for command in seeds:
    call_command(command)
from django.db import connections
connections.close_all()  # SQLite: everything in the main file, nothing left in a write-ahead log
"""

templates = Templates()


def database_place(env: dict[str, str], site: str) -> str | None:
    """Where a site of this stack keeps its data: "sqlite" (the default file in the data dir), the URL of
    its PostgreSQL database, or None for anything else (such a stack is migrated from scratch)."""
    url = env.get(f"{site.upper()}_DATABASE_URL") or env.get("DATABASE_URL") or ""
    if not url:
        return "sqlite"
    return url if url.startswith(("postgres://", "postgresql://")) else None


@contextlib.contextmanager
def postgres_admin(database_url: str) -> Iterator:
    """An autocommit connection to the server's maintenance database `postgres`."""
    import psycopg

    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        yield connection


def postgres_database_replace(target_url: str, *, template: str) -> None:
    """Make the (empty, freshly created) database a copy of the template."""
    name = target_url.rsplit("/", 1)[1]
    with postgres_admin(target_url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


@contextlib.contextmanager
def running_stack(data_dir: Path, *, extra_env: dict[str, str] | None = None, **kwargs) -> Iterator[Stack]:
    """The three sites, running. Under SSO_TEST_SERVICES=1 (scripts/run_tests.py's second pass) they run on
    fresh PostgreSQL databases and a Redis cache of their own, like production."""
    with contextlib.ExitStack() as resources:
        extra_env = dict(extra_env or {})
        if os.environ.get("SSO_TEST_SERVICES") == "1":
            extra_env = {**resources.enter_context(fresh_postgres_databases(TEST_POSTGRES_URL)), **extra_env}
            extra_env.setdefault("REDIS_URL", TEST_REDIS_URL)
            extra_env.setdefault("CACHE_KEY_PREFIX", f"stack-{uuid.uuid4().hex[:8]}-")
        stack = prepare_stack(data_dir, extra_env=extra_env, **kwargs)
        resources.callback(stack.stop_all)
        stack.start_all()
        yield stack


@contextlib.contextmanager
def fresh_postgres_databases(server_url: str, names: tuple[str, ...] = SITES) -> Iterator[dict[str, str]]:
    """Create an empty PostgreSQL database per site for one stack; drop them afterwards.
    Yields env vars (ISSUER_DATABASE_URL, ...) pointing each site at its own database."""
    import uuid

    import psycopg

    suffix = uuid.uuid4().hex[:8]
    databases = {name: f"sso_test_{name}_{suffix}" for name in names}
    base = server_url.rsplit("/", 1)[0]
    with psycopg.connect(server_url, autocommit=True) as connection:
        for database in databases.values():
            connection.execute(f'CREATE DATABASE "{database}"')
    try:
        yield {f"{name.upper()}_DATABASE_URL": f"{base}/{database}" for name, database in databases.items()}
    finally:
        with psycopg.connect(server_url, autocommit=True) as connection:
            for database in databases.values():
                connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
