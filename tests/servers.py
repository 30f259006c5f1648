"""Real servers for tests that cross HTTP: the three sites under gunicorn on loopback, on free ports,
each with its own temporary database. Every server is stopped by its process id when the stack stops."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
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


# The services scripts/run_tests.py's second pass runs on (the same defaults as tests/conftest.py's fixtures).
TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    """Three running sites. `url` is each site's public origin, `internal` where a process reaches it."""

    url: dict[str, str]
    internal: dict[str, str]
    env: dict[str, str]
    data_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

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
        process = subprocess.Popen(
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
        wait_for_port(port, process)
        self.processes[site] = process
        return process

    def stop(self, site: str) -> None:
        process = self.processes.pop(site, None)
        if process is not None:
            stop_process(process)

    def stop_all(self) -> None:
        for site in list(self.processes):
            self.stop(site)

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
    for site in SITES:
        stack.manage(site, "migrate", "--verbosity=0")
    stack.manage("issuer", "ensure_signing_key")
    stack.manage("issuer", "seed_demo")
    stack.manage("products", "seed_products")
    return stack


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
        for site in SITES:
            stack.start(site)
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
