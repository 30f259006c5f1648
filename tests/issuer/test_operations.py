"""The issuer's operations endpoints: /healthz needs nothing, /readyz answers 503 when the database or the cache
does not answer (telling only operators which), /metrics is for operators only (loopback in dev; the configured
networks or the token in production; 404 for anyone else), the issuer's counters move at their events, and log
lines carry the request id, as JSON under SSO_LOG_FORMAT=json."""

import io
import json
import logging
import re
import subprocess

import pytest
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import Client, override_settings

from issuer.services.sessions import session_revoke
from settings.env import env_networks
from tests.metrics import sample, scrape
from tests.servers import PYTHON, ROOT, free_port

from .conftest import obtain

PUBLIC = "203.0.113.9"


@pytest.fixture
def client():
    return Client()


def moved(before: str, after: str, name: str, **labels: str) -> float:
    return sample(after, name, **labels) - sample(before, name, **labels)


# ---- health -------------------------------------------------------------------------------------------


def test_healthz_answers_without_touching_the_database(client):
    # No `db` fixture: pytest-django refuses any query here, so a probe that made one would answer 500.
    response = client.get("/healthz", REMOTE_ADDR=PUBLIC)
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_readyz_answers_ok_when_the_database_and_cache_answer(client, db):
    assert client.get("/readyz", REMOTE_ADDR=PUBLIC).content == b"ok\n"
    operator = client.get("/readyz")
    assert operator.status_code == 200
    assert operator.json() == {"ready": True, "problems": []}


@pytest.fixture
def database_down(db):
    """The site's database, for the length of the test, at a PostgreSQL port where nothing listens: a real
    client whose connection is refused."""
    original = connections["default"]
    dead = {
        **original.settings_dict,
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "NAME": "gone",
        "USER": "nobody",
        "PASSWORD": "",
        "OPTIONS": {"connect_timeout": 2},
        "CONN_MAX_AGE": 0,
    }
    connections["default"] = DatabaseWrapper(dead, alias="default")
    try:
        yield
    finally:
        connections["default"].close()
        connections["default"] = original


def test_readyz_is_503_when_the_database_is_down(client, database_down):
    public = client.get("/readyz", REMOTE_ADDR=PUBLIC)
    assert public.status_code == 503
    assert public.content == b"unavailable\n"  # which check failed is no one else's business
    operator = client.get("/readyz")
    assert operator.status_code == 503
    assert operator.json()["problems"] == ["database unavailable"]
    assert client.get("/healthz").status_code == 200


def test_readyz_is_503_when_the_cache_is_down(client, db):
    # A Redis cache at a port where nothing listens: the real client's connection is refused.
    dead_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 2},
        }
    }
    with override_settings(CACHES=dead_cache):
        public = client.get("/readyz", REMOTE_ADDR=PUBLIC)
        problems = client.get("/readyz").json()["problems"]
    assert public.status_code == 503
    assert public.content == b"unavailable\n"
    assert problems == ["cache unavailable"]


# ---- who may read /metrics ----------------------------------------------------------------------------


def test_metrics_are_open_on_loopback_in_dev_in_the_prometheus_text_format(client, db):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE sso_issuer_sign_ins_total counter" in response.content.decode()


def test_metrics_are_a_404_to_anyone_else(client, db):
    response = client.get("/metrics", REMOTE_ADDR=PUBLIC)
    assert response.status_code == 404
    assert b"sso_" not in response.content


@pytest.fixture
def production(settings):
    settings.HTTPS = True
    settings.SSO_METRICS_TOKEN = "metrics-token-" + "x" * 32
    settings.SSO_METRICS_ALLOWED_NETWORKS = []
    return settings


def test_production_refuses_loopback_without_the_token(client, db, production):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Basic " + production.SSO_METRICS_TOKEN}).status_code == 404
    # Readiness details follow the same rule.
    assert client.get("/readyz").content == b"ok\n"


def test_production_serves_the_token_bearer(client, db, production):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {production.SSO_METRICS_TOKEN}"})
    assert response.status_code == 200
    assert client.get("/readyz", headers={"Authorization": f"Bearer {production.SSO_METRICS_TOKEN}"}).json()["ready"]


def test_production_serves_the_configured_networks_as_the_proxy_reports_them(client, db, production, monkeypatch):
    monkeypatch.setenv("TEST_METRICS_NETWORKS", "10.0.0.0/8, 2001:db8::/32")
    production.SSO_METRICS_ALLOWED_NETWORKS = env_networks("TEST_METRICS_NETWORKS")
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1").status_code == 404
    # Behind one trusted proxy the client is the address it appended; without one, the header is a lie.
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 404
    production.SSO_TRUSTED_PROXY_COUNT = 1
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 404


def test_a_network_that_does_not_parse_stops_start_up(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("TEST_METRICS_NETWORKS", "10.0.0.0/8,not-a-network")
    with pytest.raises(ImproperlyConfigured, match="TEST_METRICS_NETWORKS"):
        env_networks("TEST_METRICS_NETWORKS")


def test_metrics_take_no_writes(client, db):
    assert client.post("/metrics").status_code == 405


# ---- the issuer's counters ----------------------------------------------------------------------------


def test_sign_ins_and_tokens_count_by_outcome_and_kind(client, api, users):
    before = scrape(client)
    assert obtain(api, "bob").status_code == 200
    assert obtain(api, "bob", password="wrong").status_code == 401
    after = scrape(client)
    assert moved(before, after, "sso_issuer_sign_ins_total", outcome="ok") == 1
    assert moved(before, after, "sso_issuer_sign_ins_total", outcome="invalid_credentials") == 1
    assert moved(before, after, "sso_issuer_tokens_issued_total", kind="access") == 1
    assert moved(before, after, "sso_issuer_tokens_issued_total", kind="refresh") == 1


def test_throttled_attempts_count_by_scope(client, api, users, settings):
    settings.SSO_LOGIN_THROTTLE = {"FAILURES_PER_USERNAME": 1, "FAILURES_PER_IP": 100, "WINDOW_SECONDS": 60}
    assert obtain(api, "bob", password="wrong").status_code == 401
    before = scrape(client)
    assert obtain(api, "bob", password="wrong").status_code == 429
    after = scrape(client)
    assert moved(before, after, "sso_issuer_throttled_attempts_total", scope="login-username") == 1
    assert moved(before, after, "sso_issuer_sign_ins_total", outcome="throttled") == 1


def test_refresh_reuse_counts_and_revokes(client, api, users):
    first = obtain(api, "bob").json()["refresh"]
    before = scrape(client)
    second = api.post("/api/token/refresh/", {"refresh": first}, format="json")
    assert second.status_code == 200
    # The successor used: the first token presented again is a replay, not a client's retry.
    assert api.post("/api/token/refresh/", {"refresh": second.json()["refresh"]}, format="json").status_code == 200
    assert api.post("/api/token/refresh/", {"refresh": first}, format="json").status_code == 401
    assert api.post("/api/token/refresh/", {"refresh": "garbage"}, format="json").status_code == 401
    after = scrape(client)
    assert moved(before, after, "sso_issuer_refreshes_total", outcome="ok") == 2
    assert moved(before, after, "sso_issuer_refreshes_total", outcome="rejected") == 2
    assert moved(before, after, "sso_issuer_refresh_reuse_detected_total") == 1
    assert moved(before, after, "sso_issuer_sessions_revoked_total", reason="refresh_reuse") == 1


def test_a_revocation_counts_once_under_its_reason(client, api, users):
    from issuer.models import SSOSession

    obtain(api, "bob")
    session = SSOSession.objects.get(user=users["bob"])
    before = scrape(client)
    assert session_revoke(session=session, reason=SSOSession.RevokedReason.ADMIN)
    assert not session_revoke(session=session, reason=SSOSession.RevokedReason.ADMIN)  # already ended
    after = scrape(client)
    assert moved(before, after, "sso_issuer_sessions_revoked_total", reason="admin") == 1


def test_signing_keys_by_state_are_read_at_scrape(client, api, users):
    from issuer.signing.keys import signing_key_rotate

    obtain(api, "bob")  # the first token makes the first key
    assert sample(scrape(client), "sso_issuer_signing_keys", state="active") == 1
    signing_key_rotate()
    text = scrape(client)
    assert sample(text, "sso_issuer_signing_keys", state="active") == 1
    assert sample(text, "sso_issuer_signing_keys", state="retiring") == 1
    assert sample(text, "sso_issuer_signing_keys", state="retired") == 0


def test_responses_count_by_status_class(client, db):
    before = scrape(client)
    client.get("/no-such-page/")
    after = scrape(client)
    assert moved(before, after, "sso_http_responses_total", status="4xx") == 1


# ---- request ids and log lines ------------------------------------------------------------------------


def test_a_well_formed_request_id_is_kept_and_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.1:2"})
    assert response["X-Request-ID"] == "lb-7f3a.1:2"


@pytest.mark.parametrize("hostile", ["has space", "x" * 129, 'quote"d', "line\nbreak", ""])
def test_a_malformed_request_id_is_replaced(client, hostile):
    response = client.get("/healthz", headers={"X-Request-ID": hostile})
    assert response["X-Request-ID"] != hostile
    assert len(response["X-Request-ID"]) == 32


@pytest.fixture
def json_log():
    """The root logger writing JSON lines into a buffer, as settings.LOGGING does under SSO_LOG_FORMAT=json."""
    from webguard.logs import JsonFormatter
    from webguard.request_id import RequestIdFilter

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)


def test_every_log_line_of_a_request_carries_its_id_and_the_event_fields(api, users, json_log):
    response = api.post(
        "/api/token/",
        {"username": "bob", "password": "wrong"},
        format="json",
        headers={"X-Request-ID": "trace-sign-in-1"},
    )
    assert response.status_code == 401
    assert response["X-Request-ID"] == "trace-sign-in-1"
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    failed = [line for line in lines if line.get("event") == "login_failed"]
    assert failed, lines
    assert {line["request_id"] for line in lines} == {"trace-sign-in-1"}
    assert failed[0]["logger"].startswith("issuer.")
    assert failed[0]["level"] in ("INFO", "WARNING")
    assert set(failed[0]) >= {"timestamp", "level", "logger", "message", "request_id", "event"}


def test_a_line_outside_a_request_has_no_id(json_log):
    logging.getLogger("issuer.test").warning("auth event=probe reason=%s via=%s", "session revoked", "cookie")
    line = json.loads(json_log.getvalue().splitlines()[-1])
    assert line["request_id"] == "-"
    assert (line["event"], line["reason"], line["via"]) == ("probe", "session revoked", "cookie")


def test_a_username_cannot_forge_fields(api, users, json_log):
    # The pairs come from the format string, so the text in one value never becomes a field of its own.
    api.post("/api/token/", {"username": "mallory ip=192.0.2.66 event=login_succeeded", "password": "x"}, format="json")
    failed = [json.loads(line) for line in json_log.getvalue().splitlines() if "login_failed" in line]
    assert len(failed) == 1
    assert failed[0]["event"] == "login_failed"
    assert failed[0]["user"] == "mallory ip=192.0.2.66 event=login_succeeded"
    assert failed[0]["ip"] == "127.0.0.1"


@pytest.mark.storage_independent
def test_sso_log_format_json_switches_the_site_logging(tmp_path):
    code = "import logging; logging.getLogger('issuer.probe').warning('auth event=probe kind=json')"
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code, "--settings=settings.issuer"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SSO_DATA_DIR": str(tmp_path), "SSO_LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert (line["logger"], line["event"], line["kind"], line["request_id"]) == ("issuer.probe", "probe", "json", "-")


# ---- the dashboard ------------------------------------------------------------------------------------


def test_the_dashboard_charts_every_sso_metric_and_only_those(client, db):
    from prometheus_client.parser import text_string_to_metric_families

    import sso_client.metrics

    # The issuer's scrape, plus the relying apps' own metrics (their counters and scrape-time gauges).
    families = list(text_string_to_metric_families(scrape(client)))
    families += list(sso_client.metrics.IssuerStateCollector().collect())
    served = set()
    for family in families:
        if family.name.startswith("sso_"):
            served |= {family.name, f"{family.name}_total"} if family.type == "counter" else {family.name}
    dashboard = json.loads((ROOT / "ops" / "grafana-dashboard.json").read_text())
    expressions = " ".join(
        target["expr"] for panel in dashboard["panels"] if panel["type"] != "row" for target in panel["targets"]
    )
    charted = set(re.findall(r"\bsso_[a-z_]+", expressions))
    assert charted <= served, charted - served
    families_charted = {name.removesuffix("_total") for name in charted}
    assert {family.name for family in families if family.name.startswith("sso_")} <= families_charted


def test_a_failing_probe_logs_the_change_not_every_probe(client, database_down, caplog, monkeypatch):
    from webguard import health

    monkeypatch.setattr(health, "_last_problems", [])  # what an earlier test's probes left behind
    with caplog.at_level(logging.INFO, logger="webguard.health"):
        for _ in range(3):
            assert client.get("/readyz", REMOTE_ADDR=PUBLIC).status_code == 503
    events = [record.getMessage() for record in caplog.records if record.name == "webguard.health"]
    assert events == ["operations event=not_ready problems=database_unavailable"]


def test_a_service_token_counts_as_issued(client, api, apps):
    from issuer.models import ServiceClient
    from issuer.services.service_clients import service_client_secret_set

    orders = ServiceClient.objects.create(name="Orders", client_id="orders", scopes="stock:reserve")
    orders.audiences.set([apps["products"]])
    service_client_secret_set(client=orders, raw_secret="s" * 40)
    before = scrape(client)
    body = {"client_id": "orders", "client_secret": "s" * 40, "audience": "products"}
    assert api.post("/api/service-token/", body, format="json").status_code == 200
    assert moved(before, scrape(client), "sso_issuer_tokens_issued_total", kind="service") == 1
