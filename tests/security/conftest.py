"""The adversarial suite's fixtures: one running three-site stack for the whole session, under public host
names (sso/orders/products.example.test, served on loopback) with a shared cookie domain, so look-alike and
sibling-subdomain origins are real. The issuer signs with a key file this suite wrote, so a hostile token can
carry a valid signature and the one thing wrong with it is the thing under test.

The issuer trusts one proxy (SSO_TRUSTED_PROXY_COUNT=1): tests stand in for that proxy by sending the
client's address as the last X-Forwarded-For entry, which gives each test its own address. Login limits are
small (3 failures per username, 6 per address) to keep brute-force tests short.

Under SSO_TEST_SERVICES=1 (scripts/run_tests.py's second pass) the stack runs on PostgreSQL and Redis, the
issuer with two worker processes, so the throttles must hold across processes through Redis."""

import contextlib
import http.server
import itertools
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization

from issuer.signing.keys import public_jwk_for
from tests import keys
from tests.refusals import FAST_SECONDS, assert_generic_body
from tests.servers import DEMO_PASSWORD, Stack, fresh_postgres_databases, prepare_stack

HOSTS = {"issuer": "sso.example.test", "orders": "orders.example.test", "products": "products.example.test"}
ISSUER_KEY = "security-issuer"
PASSWORD = DEMO_PASSWORD  # every account's, the demo ones' and this suite's
FAILURES_PER_USERNAME = 3
FAILURES_PER_IP = 6


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory) -> None:
    """On SQLite, the in-process tests' database is a file (WAL, IMMEDIATE transactions), as the issuer runs
    on, not Django's shared in-memory database: there, concurrent writers fail with "table is locked"
    instead of waiting their turn, so the parallel-guess test could not show the counts holding."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "issuer-test.sqlite3")


def services_mode() -> bool:
    return os.environ.get("SSO_TEST_SERVICES") == "1"


@dataclass
class SecurityStack:
    stack: Stack
    log_files: dict[str, str] = field(default_factory=dict)
    _addresses: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> dict[str, str]:
        return self.stack.url

    @property
    def internal(self) -> dict[str, str]:
        return self.stack.internal

    def client_ip(self) -> str:
        """A fresh client address, never used by another test."""
        n = next(self._addresses)
        return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"

    def login(self, username: str, password: str, *, ip: str, forwarded: str | None = None) -> requests.Response:
        """POST /api/token/ as a client at `ip` behind the trusted proxy (which appends `ip` to whatever
        X-Forwarded-For the client sent: `forwarded`)."""
        chain = f"{forwarded}, {ip}" if forwarded else ip
        return requests.post(
            f"{self.internal['issuer']}/api/token/",
            json={"username": username, "password": password},
            headers={"X-Forwarded-For": chain, "Accept": "application/json"},
            timeout=30,
        )

    def token(self, username: str, **extra) -> dict:
        response = requests.post(
            f"{self.internal['issuer']}/api/token/",
            json={"username": username, "password": PASSWORD, **extra},
            headers={"X-Forwarded-For": self.client_ip()},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def log(self, site: str) -> str:
        return "".join(
            open(path, encoding="utf-8", errors="replace").read() for path in self.stack.data_dir.glob(f"{site}-*.log")
        )


def issuer_private_key():
    return keys.private_key(ISSUER_KEY)


def issuer_kid() -> str:
    return public_jwk_for(issuer_private_key())["kid"]


# Accounts this suite needs besides the demo ones; one shell call creates them all.
USERS_SCRIPT = """
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from issuer.models import RelyingApp
User = get_user_model()
apps = list(RelyingApp.objects.filter(audience__in=["orders", "products"]))
spec = json.loads(SPEC)
hashed = make_password(spec["password"])
for name, active in spec["users"]:
    user = User.objects.create(username=name, password=hashed, is_active=active)
    user.relying_apps.set(apps)
from issuer.models import ServiceClient
client = ServiceClient(name="Victim", client_id=spec["service_client"], scopes="stock:reserve")
client.set_secret(spec["password"])
client.save()
client.audiences.set(apps)
"""


def create_users(stack: Stack, users: list[tuple[str, bool]]) -> None:
    spec = json.dumps({"password": PASSWORD, "users": users, "service_client": SERVICE_CLIENT})
    script = f"import json\nSPEC = {spec!r}\n{USERS_SCRIPT}"
    stack.manage("issuer", "shell", "-c", script)


ENUMERATION_TRIES = 5
SERVICE_CLIENT = "victim-client"  # a service client whose secret is PASSWORD
NASTY_USERNAMES = [
    'mallory","roles":["catalog_manager"],"staff":true,"sub":"1',
    "mallory\nauth event=login_succeeded user=alice sid=forged ip=-",
    "mallory</script><script>alert(1)</script>",
]
SUITE_USERS = [
    ("victim-brute", True),
    ("victim-page", True),
    ("victim-spoof", True),
    ("victim-direct", True),
    ("victim-evict", True),
    ("ip-check", True),
    *[(f"enum-active-{i}", True) for i in range(ENUMERATION_TRIES)],
    *[(f"enum-inactive-{i}", False) for i in range(ENUMERATION_TRIES)],
    *[(name, True) for name in NASTY_USERNAMES],
]


@pytest.fixture(scope="session")
def security_stack(tmp_path_factory, request) -> Iterator[SecurityStack]:
    data_dir = tmp_path_factory.mktemp("security-stack")
    key_file = data_dir / "issuer-signing-key.pem"
    key_file.write_bytes(
        issuer_private_key().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    extra_env = {
        "SSO_COOKIE_DOMAIN": ".example.test",
        "SSO_SIGNING_KEY_FILE": str(key_file),
        "SSO_TRUSTED_PROXY_COUNT": "1",
        "SSO_LOGIN_FAILURES_PER_USERNAME": str(FAILURES_PER_USERNAME),
        "SSO_LOGIN_FAILURES_PER_IP": str(FAILURES_PER_IP),
        "SSO_LOGIN_THROTTLE_SECONDS": "600",
        "REDIS_URL": "",
    }
    workers = {"issuer": 1, "orders": 1, "products": 1}
    with contextlib.ExitStack() as resources:
        if services_mode():
            extra_env.update(resources.enter_context(fresh_postgres_databases(request.getfixturevalue("postgres_url"))))
            extra_env["REDIS_URL"] = request.getfixturevalue("redis_url")
            extra_env["CACHE_KEY_PREFIX"] = f"security-{uuid.uuid4().hex[:8]}-"
            workers["issuer"] = 2
        stack = prepare_stack(data_dir, hosts=HOSTS, extra_env=extra_env)
        resources.callback(stack.stop_all)
        stack.start_all(workers=workers)
        create_users(stack, SUITE_USERS)
        yield SecurityStack(stack=stack)


@pytest.fixture(scope="session")
def bob(security_stack) -> dict:
    """A real sign-on of bob's: its tokens, and the `sub` and `sid` that forged tokens borrow."""
    pair = security_stack.token("bob")
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    return {**pair, "sub": claims["sub"], "sid_claim": claims["sid"], "claims": claims}


class LoopbackListener:
    """An HTTP server on loopback that records every request: the proof that no verifier fetched a URL a
    token named (jku, x5u)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
                listener.requests.append(self.path)
                body = json.dumps({"keys": [keys.public_jwk("attacker")]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "LoopbackListener":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def listener() -> Iterator[LoopbackListener]:
    with LoopbackListener() as running:
        yield running


def assert_refused(response: requests.Response, *statuses: int, seconds: float = FAST_SECONDS) -> None:
    """A refusal: one of `statuses`, fast, with a small generic body that leaks nothing."""
    statuses = statuses or (401,)
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.elapsed.total_seconds() < seconds, f"took {response.elapsed.total_seconds():.2f}s"
    assert_generic_body(
        status=response.status_code, body=response.text, content_type=response.headers.get("Content-Type", "")
    )
