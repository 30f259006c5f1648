"""A real back-channel logout receiver for tests: an HTTP server on 127.0.0.1 that records every POST and
answers with the statuses it is given, or holds a request open until released (a client that hangs)."""

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
from django.conf import settings

from issuer.signing.oidc import LOGOUT_TOKEN_REQUIRED_CLAIMS, published_key_for


@dataclass(frozen=True)
class Received:
    path: str
    content_type: str
    form: dict[str, list[str]]


class Receiver:
    """`statuses` are answered in turn (the last one from then on); `stall` holds every request until
    `release()`. `redirect_to` is sent as Location with a 3xx status."""

    def __init__(self, *statuses: int, stall: bool = False, redirect_to: str = "") -> None:
        self.statuses = list(statuses) or [200]
        self.received: list[Received] = []
        self.released = threading.Event()
        if not stall:
            self.released.set()
        self.redirect_to = redirect_to
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="backchannel-receiver", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/sso/backchannel-logout/"

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def release(self) -> None:
        self.released.set()

    def tokens(self) -> list[str]:
        return [received.form["logout_token"][0] for received in self.received]

    def _next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with receiver.lock:
                    receiver.received.append(Received(self.path, self.headers.get("Content-Type", ""), parse_qs(body)))
                # Bounded, so a test that forgets to release cannot hang the run.
                receiver.released.wait(timeout=30)
                status = receiver._next_status()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args) -> None:
                pass

        return Handler


def verified_logout_token(raw: str, *, audience: str) -> dict:
    """The token as a relying party checks it (section 2.6): the published key, RS256 only, exact iss and aud."""
    return jwt.decode(
        raw,
        published_key_for(raw),
        algorithms=["RS256"],
        audience=audience,
        issuer=settings.SSO_ISSUER_URL,
        options={"require": list(LOGOUT_TOKEN_REQUIRED_CLAIMS)},
    )


def join_delivery_threads() -> None:
    """Wait for this process's delivery pass (started at the commit, before the sign-out answered) to end."""
    for thread in threading.enumerate():
        if thread.name == "backchannel-logout":
            thread.join(timeout=30)
