"""A Python load generator for `make bench` (wrk, when installed, drives section (b); these sections need
what wrk's scripts cannot do simply: a refresh chain per client, thousands of distinct tokens).

Each client is its own process (so clients do not share one interpreter lock), runs a closed loop for a fixed
time over plain `http.client` (keep-alive where the server keeps the connection, a new connection where it
closes it), and reports how many requests it made, which answered other than expected (by status, or by
the connection error), and every latency. `run_load` starts the clients together and pools their figures: requests/s over the run, p50 and
p99 latency. `compare_endpoints` loads several endpoints of one server in rounds whose order rotates, as
bench/load.py does for wrk, so a neighbour's burst of work does not favour one endpoint."""

import http.client
import json
import multiprocessing
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench import load


@dataclass
class Workload:
    """What one client sends: `kind` "post" (the same JSON body each time), "refresh" (a refresh chain,
    each body the previous answer's refresh token) or "get" (a GET cycling through `bearers`)."""

    kind: str
    path: str
    expected_status: int
    body: dict = field(default_factory=dict)
    bearers: list[str] = field(default_factory=list)


def _requests(workload: Workload) -> Iterator[tuple[str, bytes | None, dict[str, str]]]:
    if workload.kind == "get":
        while True:
            for bearer in workload.bearers:
                yield "GET", None, {"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
    body = json.dumps(workload.body).encode()
    while True:
        yield "POST", body, {"Content-Type": "application/json", "Accept": "application/json"}


def _client(args: tuple[str, Workload, float, int | None]) -> dict:
    base_url, workload, seconds, max_requests = args
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    latencies: list[float] = []
    unexpected: Counter[str] = Counter()  # by status code, or by the connection error's name
    requests = _requests(workload)
    refresh = workload.body.get("refresh")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and (max_requests is None or len(latencies) < max_requests):
        method, body, headers = next(requests)
        if workload.kind == "refresh":
            body = json.dumps({"refresh": refresh}).encode()
        started = time.perf_counter()
        try:
            connection.request(method, workload.path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as e:
            connection.close()
            unexpected[type(e).__name__] += 1
            continue
        latencies.append(time.perf_counter() - started)
        if response.status != workload.expected_status:
            unexpected[str(response.status)] += 1
        elif workload.kind == "refresh":
            refresh = json.loads(answer)["refresh"]
    connection.close()
    return {"latencies": latencies, "unexpected": dict(unexpected)}


def run_load(
    base_url: str,
    workloads: list[Workload],
    *,
    seconds: float,
    server_pid: int | None = None,
    max_requests_per_client: int | None = None,
) -> dict:
    """One client process per workload, all at once, for `seconds` (or until each made its maximum)."""
    context = multiprocessing.get_context("fork")
    cpu_before = load.server_cpu_seconds(server_pid) if server_pid else None
    started = time.perf_counter()
    with context.Pool(len(workloads)) as pool:
        results = pool.map(_client, [(base_url, w, seconds, max_requests_per_client) for w in workloads])
    elapsed = time.perf_counter() - started
    cpu_after = load.server_cpu_seconds(server_pid) if server_pid else None
    latencies = sorted(latency for result in results for latency in result["latencies"])
    requests = len(latencies)
    unexpected = sum((Counter(result["unexpected"]) for result in results), Counter())
    return {
        "requests": requests,
        "errors": sum(unexpected.values()),
        "unexpected": dict(unexpected),
        "rps": requests / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p99_ms": latencies[min(requests - 1, int(requests * 0.99))] * 1000 if latencies else None,
        "cpu_us_per_request": (
            None
            if cpu_before is None or cpu_after is None or not requests
            else (cpu_after - cpu_before) / requests * 1e6
        ),
    }


def compare_endpoints(
    base_url: str,
    endpoints: dict[str, Callable[[], list[Workload]]],
    *,
    rounds: int,
    seconds: float,
    server_pid: int | None = None,
) -> dict:
    """Each endpoint's figures (medians over `rounds`, the order rotating from round to round). Each endpoint
    gives its clients' workloads afresh for every round: a refresh chain cannot start again from a token an
    earlier round has spent (the issuer would rightly take that for reuse and end the session)."""
    names = list(endpoints)
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for index in range(rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            runs[name].append(run_load(base_url, endpoints[name](), seconds=seconds, server_pid=server_pid))
    summary = {}
    for name, results in runs.items():
        cpu = [r["cpu_us_per_request"] for r in results]
        summary[name] = {
            "requests": sum(r["requests"] for r in results),
            "errors": sum(r["errors"] for r in results),
            "unexpected": dict(sum((Counter(r["unexpected"]) for r in results), Counter())),
            "rps": statistics.median(r["rps"] for r in results),
            "p50_ms": statistics.median(r["p50_ms"] for r in results),
            "p99_ms": statistics.median(r["p99_ms"] for r in results),
            "cpu_us_per_request": None if None in cpu else statistics.median(cpu),
        }
    summary["settings"] = {"rounds": rounds, "seconds_per_run": seconds, "clients": len(endpoints[names[0]]())}
    return summary
