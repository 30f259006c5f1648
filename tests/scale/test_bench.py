"""`make bench`'s own parts: the wrk report script, the server CPU reading, and the verdicts it prints."""

import http.server
import os
import threading

import pytest

from bench import load
from bench.run import build_rows


@pytest.fixture
def tiny_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
            status = 200 if self.headers.get("Authorization") == "Bearer t0ken" else 401
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(load.wrk_path() is None, reason="wrk is not installed")
def test_the_wrk_script_sends_the_header_and_reports_json(tiny_server):
    good = load.wrk_run(tiny_server, seconds=1, connections=2, threads=1, authorization="Bearer t0ken")
    assert good["requests"] > 0
    assert good["non_2xx"] == 0
    assert 0 < good["p50_us"] <= good["p99_us"]
    refused = load.wrk_run(tiny_server, seconds=1, connections=2, threads=1)
    assert refused["non_2xx"] == refused["requests"] > 0, "without the header every answer is a 401, and counted"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_server_cpu_counts_the_process_and_its_children():
    first = load.server_cpu_seconds(os.getpid())
    sum(i * i for i in range(2_000_000))  # burn some CPU in this process
    assert load.server_cpu_seconds(os.getpid()) > first


def results(**changes) -> dict:
    """A complete set of section results, with every target met unless `changes` say otherwise."""
    base = {
        "verification": {
            "verify": {
                "raw_verify": 16.0,
                "verify_cold": 30.0,
                "verify_warm": 1.0,
                "pyjwt_decode": 50.0,
                "authenticate_cold": 40.0,
                "authenticate_warm": 4.0,
                "simplejwt_authenticate": 58.0,
                "cache_clear": 0.1,
            },
            "requests": {"whoami": 185.0, "ping": 178.0},
            "steady_state": {
                "requests": 10_000,
                "failures": 0,
                "seconds": 2.0,
                "db_queries": 0,
                "http_request_path": 0,
                "cache_request_path": 0,
                "http_background": 1,
                "cache_background": 4,
            },
        },
        "load": {
            "authenticated": {"rps": 3400.0, "p50_ms": 9.0, "p99_ms": 20.0, "errors": 0, "cpu_us_per_request": 420.0},
            "baseline": {"rps": 3500.0, "p50_ms": 8.8, "p99_ms": 19.0, "errors": 0, "cpu_us_per_request": 410.0},
            "rps_ratio": 0.97,
            "settings": {"rounds": 6, "seconds_per_run": 3, "connections": 32, "wrk_threads": 1},
        },
        "revocation": {
            "interval_seconds": 5.0,
            "budget_seconds": 6.0,
            "samples": 3,
            "worst_seconds": {"orders": 4.2, "products": 5.1},
            "within_budget": True,
        },
        "reset_timing": {
            "samples": 200,
            "known_median_s": 0.0081,
            "unknown_median_s": 0.0083,
            "difference": 0.025,
            "tolerance": 0.15,
        },
        "issuer": {
            "refresh": {"refresh": 400.0, "raw_sign": 210.0, "write_alone": 90.0, "write_with_audit": 120.0},
            "refresh_queries": 5,
            "login": {"login": 60_000.0, "hasher": 58_000.0, "pbkdf2": 640_000.0},
            "hasher": "argon2 (argon2id), m=19 MiB, t=2, p=1",
            "hasher_params": {"variety": "argon2id", "memory_cost": 19456, "time_cost": 2, "parallelism": 1},
            "pbkdf2_iterations": 1_000_000,
            "refresh_statements": ["BEGIN", "SELECT", "UPDATE", "INSERT", "COMMIT"],
        },
        "oidc_flow": {"code_flow": 140_000.0, "login": 280_000.0},
        "issuer_postgres": None,
        "memory": {
            "requests": 50_000,
            "distinct_tokens": 5_000,
            "errors": 0,
            "rps": 600.0,
            "rss_kib": {"warm": 60_000, "half": 80_000, "end": 81_000},
        },
        "issuer_throughput": {
            "noop": {"requests": 9000, "errors": 0, "rps": 1500.0, "p50_ms": 2.0, "p99_ms": 8.0},
            "refresh": {"requests": 3000, "errors": 0, "rps": 500.0, "p50_ms": 6.0, "p99_ms": 20.0},
            "login": {"requests": 300, "errors": 0, "rps": 25.0, "p50_ms": 150.0, "p99_ms": 300.0},
            "settings": {"rounds": 3, "seconds_per_run": 4, "clients": 4},
        },
    }
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = base
        for name in parents:
            node = node[name]
        node[leaf] = value
    return base


def verdicts(data: dict) -> dict[str, bool | None]:
    return {target: met for target, met, _figure in build_rows(data)[1]}


def test_every_target_met_reads_met():
    assert all(verdicts(results()).values())


@pytest.mark.parametrize(
    ("change", "target"),
    [
        ({"verification__verify__verify_warm": 17.0}, "warm verification <= 1x raw verify"),
        ({"verification__verify__verify_cold": 32.2}, "cold verification <= 2.0x raw verify"),
        ({"load__rps_ratio": 0.89}, "authenticated requests/s >= 0.9x unauthenticated"),
        (
            {"issuer__refresh": {"refresh": 451.0, "raw_sign": 210.0, "write_alone": 90.0, "write_with_audit": 120.0}},
            "refresh <= 1.5x (raw sign + bare commit) (SQLite)",
        ),
        ({"issuer__login__login": 130_000.0}, "login CPU <= 0.2x the PBKDF2 login of before"),
        (
            {"issuer__hasher_params__memory_cost": 16 * 1024},
            "hasher Argon2id at least OWASP's minimum (m=19 MiB, t=2, p=1)",
        ),
        (
            {"issuer_throughput__refresh__errors": 3},
            "the issuer under load answers every refresh and login as expected",
        ),
        (
            {"memory__rss_kib": {"warm": 60_000, "half": 80_000, "end": 85_000}},
            "relying worker memory bounded (growth over the second half <= 5%)",
        ),
        ({"verification__steady_state__db_queries": 1}, "zero queries and network calls per authenticated request"),
        (
            {"verification__steady_state__cache_request_path": 3},
            "zero queries and network calls per authenticated request",
        ),
    ],
)
def test_a_missed_target_reads_not_met(change, target):
    got = verdicts(results(**change))
    assert got[target] is False
    assert sum(met is False for met in got.values()) == 1


def test_errors_under_load_fail_the_throughput_target_even_at_a_good_ratio():
    data = results()
    data["load"]["authenticated"]["errors"] = 5
    assert verdicts(data)["authenticated requests/s >= 0.9x unauthenticated"] is False


def test_every_section_has_a_row_with_its_reference():
    rows, _targets = build_rows(results())
    measures = [row[0] for row in rows]
    for section in ("(a)", "(b)", "(c)", "(d)", "(e)", "(f)", "(g)", "(h)"):
        assert any(m.startswith(section) for m in measures), section
    assert "skipped" in dict((row[0], row[1]) for row in rows)["(c) refresh, PostgreSQL"]


def test_the_json_table_holds_every_printed_figure_and_verdict():
    from bench.run import report

    lines, table = report(results(issuer_throughput=None), 60.0, "bench/run.py")
    printed = "\n".join(lines)
    assert len(table["rows"]) == len(build_rows(results(issuer_throughput=None))[0])
    for row in table["rows"]:
        assert row["figure"] in printed and row["measure"] in printed
    for target in table["targets"]:
        assert f"target {target['target']}: {target['verdict']} ({target['figure']})" in printed
    assert table["run"] == lines[0]
