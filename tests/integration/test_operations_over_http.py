"""The operations endpoints over HTTP, under gunicorn. A production-like issuer with two workers: a counter
moved in both workers reads as their sum whichever worker answers the scrape (prometheus-client's multiprocess
mode), /metrics is a 404 without the token (loopback is no exception in production), and the probes answer
over plain HTTP without the HTTPS redirect. Then the three sites with JSON logs: one order's request id appears
in the issuer's log lines."""

import json
import secrets
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.metrics import sample
from tests.security.test_production_profile import PRODUCTION, clean_environ, manage
from tests.servers import GUNICORN, ROOT, free_port, running_stack, stop_process, wait_for_port

METRICS_TOKEN = secrets.token_urlsafe(32)
HOST = "sso.example.com"


@pytest.fixture(scope="module")
def two_worker_issuer(tmp_path_factory):
    """The issuer under production variables (HTTPS origins, behind one proxy) on an embedded database, two
    sync workers (one request at a time each), the metrics token set and no network allowed."""
    tmp = tmp_path_factory.mktemp("two-worker-issuer")
    embedded = {"DATABASE_URL": f"sqlite:///{tmp / 'issuer.sqlite3'}", "REDIS_URL": ""}
    env = clean_environ(
        tmp, **{**PRODUCTION, **embedded, "DJANGO_STATIC_ROOT": str(tmp / "static"), "SSO_METRICS_TOKEN": METRICS_TOKEN}
    )
    env["GUNICORN_ACCESS_LOG"] = str(tmp / "access.log")
    result = manage("issuer", env, "migrate", "--verbosity=0")
    assert result.returncode == 0, result.stderr
    port = free_port()
    process = subprocess.Popen(
        [GUNICORN, "settings.wsgi", "--workers", "2", "--threads", "1"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "settings.issuer", "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "issuer.log", "ab"),  # noqa: SIM115  (the process owns it)
    )
    try:
        wait_for_port(port, process)
        yield port, tmp / "access.log"
    finally:
        stop_process(process)


def refresh_request(body: bytes = b'{"refresh": "not-a-token"}') -> bytes:
    """A refused refresh, as the TLS proxy forwards it."""
    head = (
        "POST /api/token/refresh/ HTTP/1.1\r\n"
        f"Host: {HOST}\r\n"
        "X-Forwarded-Proto: https\r\n"
        "X-Forwarded-For: 192.0.2.10\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        "Connection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class HeldRequest:
    """A request sent in two parts: after the first, the worker that accepted the connection is busy reading
    it (a sync worker serves one connection at a time) until `finish` sends the rest."""

    def __init__(self, port: int) -> None:
        self.request = refresh_request()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock.sendall(self.request[:10])

    def finish(self) -> str:
        self.sock.sendall(self.request[10:])
        answer = b""
        while chunk := self.sock.recv(65536):
            answer += chunk
        self.sock.close()
        return answer.decode("latin-1").split("\r\n", 1)[0]


def get(port: int, path: str, **headers: str) -> requests.Response:
    return requests.get(
        f"http://127.0.0.1:{port}{path}", headers={"Host": HOST, **headers}, allow_redirects=False, timeout=10
    )


@pytest.mark.storage_independent  # its own environment: an embedded database, whatever the run
def test_a_scrape_sums_the_counts_of_every_worker(two_worker_issuer):
    port, _access_log = two_worker_issuer
    # Two held connections occupy both workers; a third waits until one of them is free. So whichever worker
    # took the first serves the first and the third (2 counts) and the other serves the second (1 count).
    first, second = HeldRequest(port), HeldRequest(port)
    third = HeldRequest(port)
    assert first.finish() == "HTTP/1.1 401 Unauthorized"
    assert second.finish() == "HTTP/1.1 401 Unauthorized"
    assert third.finish() == "HTTP/1.1 401 Unauthorized"
    # Neither worker counted 3 on its own; every scrape, by either worker, reads the sum.
    for _ in range(4):
        response = get(port, "/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
        assert response.status_code == 200
        assert sample(response.text, "sso_issuer_refreshes_total", outcome="rejected") == 3


@pytest.mark.storage_independent
def test_production_metrics_are_a_404_without_the_token(two_worker_issuer):
    port, _access_log = two_worker_issuer
    assert get(port, "/metrics").status_code == 404  # loopback, over plain HTTP
    assert get(port, "/metrics", **{"X-Forwarded-Proto": "https"}).status_code == 404
    assert get(port, "/metrics", Authorization="Bearer " + "x" * len(METRICS_TOKEN)).status_code == 404
    refused = get(port, "/metrics", Authorization=f"Basic {METRICS_TOKEN}")
    assert refused.status_code == 404
    assert "sso_" not in refused.text


@pytest.mark.storage_independent
def test_the_probes_answer_plain_http_with_the_public_host(two_worker_issuer):
    port, _access_log = two_worker_issuer
    health, ready = get(port, "/healthz"), get(port, "/readyz")
    assert (health.status_code, health.text) == (200, "ok\n")
    assert (ready.status_code, ready.text) == (200, "ok\n")  # no details for a caller without the token
    assert get(port, "/api/revocations/").status_code == 301  # everything else still goes to HTTPS
    assert get(port, "/healthz", Host="evil.example").status_code == 400  # ALLOWED_HOSTS holds for probes too


@pytest.mark.storage_independent
def test_the_access_log_line_carries_the_request_id(two_worker_issuer):
    port, access_log = two_worker_issuer
    assert get(port, "/healthz", **{"X-Request-ID": "probe-77"}).headers["X-Request-ID"] == "probe-77"
    deadline = time.monotonic() + 10
    while "request_id=probe-77" not in access_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert '"GET /healthz HTTP/1.1" 200' in access_log.read_text()
    assert "request_id=probe-77" in access_log.read_text()


def log_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text().splitlines() if path.exists() else []:
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_one_order_is_followed_into_the_issuer_log(tmp_path):
    with running_stack(tmp_path, extra_env={"SSO_LOG_FORMAT": "json"}) as stack:
        bob = stack.token("bob")["access"]
        response = requests.post(
            f"{stack.internal['orders']}/api/orders/",
            json={"lines": [{"sku": "mug-blue", "quantity": 1}]},
            headers={"Authorization": f"Bearer {bob}", "X-Request-ID": "trace-order-over-http"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        assert response.headers["X-Request-ID"] == "trace-order-over-http"
        issuer_log = tmp_path / f"issuer-{stack.internal['issuer'].rsplit(':', 1)[1]}.log"
        # orders' first order fetches its service token from the issuer, which logs the grant.
        deadline = time.monotonic() + 10
        while True:
            traced = [line for line in log_lines(issuer_log) if line["request_id"] == "trace-order-over-http"]
            if traced or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert [line["event"] for line in traced] == ["service_token_issued"], log_lines(issuer_log)
        assert traced[0]["logger"].startswith("issuer.")
