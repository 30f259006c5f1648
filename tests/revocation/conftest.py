"""Fixtures for sessions, revocation and key rotation: issuer users, a loopback HTTP server that plays the
issuer (or a hostile host) for sso_client, and real three-site stacks with a one-second revocation interval."""

import http.server
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from issuer.models import RelyingApp
from issuer.signing import keys
from tests.servers import Stack, prepare_stack

PASSWORD = "correct horse battery staple"
# The relying apps' revocation interval in the stacks here: the figure every propagation test measures against.
INTERVAL = 1.0


# ---- issuer unit tests -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_keys_and_cache():
    cache.clear()
    keys._loaded_keys.clear()
    keys._file_key.loaded, keys._file_key.checked_at = None, float("-inf")
    yield
    cache.clear()
    keys._loaded_keys.clear()
    keys._file_key.loaded, keys._file_key.checked_at = None, float("-inf")


@pytest.fixture
def users(db):
    orders = RelyingApp.objects.create(name="Orders", audience="orders", origin="http://localhost:8001")
    products = RelyingApp.objects.create(name="Products", audience="products", origin="http://localhost:8002")
    User = get_user_model()
    alice = User.objects.create_user("alice", "alice@example.com", PASSWORD, is_staff=True, is_superuser=True)
    bob = User.objects.create_user("bob", "bob@example.com", PASSWORD)
    staff = User.objects.create_user("stan", "stan@example.com", PASSWORD, is_staff=True)
    bob.relying_apps.set([orders, products])
    return {"alice": alice, "bob": bob, "stan": staff}


@pytest.fixture
def api():
    return APIClient()


def sign_in(api: APIClient, username: str, password: str = PASSWORD, **extra) -> dict:
    """A sign-on through /api/token/; `audience="sso"` for a token the issuer's account API takes."""
    response = api.post("/api/token/", {"username": username, "password": password, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


# ---- a loopback HTTP server ------------------------------------------------------------------------

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class LoopbackServer:
    """A tiny HTTP server on a free loopback port. `routes` maps a path to a handler; `hits` counts
    requests per path, so a test can say how often sso_client really called out."""

    server: http.server.ThreadingHTTPServer
    routes: dict[str, Handler] = field(default_factory=dict)
    hits: Counter = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def json_route(self, path: str, body: dict | Callable[[], dict], *, delay: float = 0.0) -> None:
        def handle(request: http.server.BaseHTTPRequestHandler) -> None:
            if delay:
                self.release.wait(delay)
            payload = json.dumps(body() if callable(body) else body).encode()
            request.send_response(200)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)

        self.routes[path] = handle

    def fail_route(self, path: str, status: int = 503) -> None:
        def handle(request: http.server.BaseHTTPRequestHandler) -> None:
            request.send_response(status)
            request.send_header("Content-Length", "0")
            request.end_headers()

        self.routes[path] = handle


@pytest.fixture
def loopback() -> Iterator[Callable[[], LoopbackServer]]:
    """Start loopback servers on demand; every one is shut down (and its hanging handlers released)."""
    started: list[LoopbackServer] = []

    def start() -> LoopbackServer:
        holder: dict[str, LoopbackServer] = {}

        class RequestHandler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
                loop = holder["server"]
                path = self.path.split("?", 1)[0]
                loop.hits[path] += 1
                handler = loop.routes.get(path)
                if handler is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    handler(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should have

            def log_message(self, format: str, *args) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        server.daemon_threads = True
        loop = LoopbackServer(server)
        holder["server"] = loop
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        started.append(loop)
        return loop

    yield start
    for loop in started:
        loop.release.set()
        loop.server.shutdown()
        loop.server.server_close()


# ---- real stacks -----------------------------------------------------------------------------------


def stack_env(**extra: str) -> dict[str, str]:
    return {"SSO_REVOCATION_REFRESH_SECONDS": str(INTERVAL), **extra}


def log_text(stack: Stack, site: str) -> str:
    """Everything the site's servers (all starts of them) wrote to their log in the stack's data dir."""
    return "".join(path.read_text(errors="replace") for path in sorted(stack.data_dir.glob(f"{site}-*.log")))


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """The three sites under gunicorn, revocation interval INTERVAL; the issuer with two workers, so a
    revocation or a rotation made by one process must be seen through the database by the other."""
    stack = prepare_stack(
        tmp_path_factory.mktemp("revocation-stack"), extra_env=stack_env(SSO_JWKS_MIN_REFETCH_SECONDS="2")
    )
    try:
        stack.start_all(workers={"issuer": 2})
        yield stack
    finally:
        stack.stop_all()
