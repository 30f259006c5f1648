"""Section (b) of `make bench`: requests per second and latency of an authenticated endpoint against the
same server's unauthenticated one, with wrk (Debian's package) as the load generator on loopback.

Both endpoints are served by the same gunicorn server (same workers, same threads), so the only
difference is authentication. The machine may be shared, and a neighbour's burst of work would favour
whichever endpoint happened to run beside it, so the load runs in short rounds, each round one run of
each endpoint, the order alternating from round to round (A B, B A, A B, ...). Requests per second, p50 and
p99 are the medians over the rounds, and the ratio is the median of the rounds' ratios. Beside them, the
server's own CPU time per request (its processes' user + system time from /proc, Linux only), which a
neighbour's load barely moves: the direct measure of what authentication costs the server."""

import json
import os
import shutil
import statistics
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).with_name("wrk_report.lua")


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_run(url: str, *, seconds: float, connections: int, threads: int, authorization: str = "") -> dict:
    """One wrk run; returns its figures (requests, duration, errors, p50/p99 in microseconds)."""
    result = subprocess.run(
        [
            wrk_path() or "wrk",
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={seconds:g}s",
            "--timeout=5s",
            f"--script={SCRIPT}",
            url,
        ],
        env={**os.environ, "BENCH_AUTHORIZATION": authorization},
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def server_cpu_seconds(master_pid: int) -> float | None:
    """User + system CPU seconds used so far by a gunicorn master and its workers (None off Linux)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat_file in proc.glob("[0-9]*/stat"):
        try:
            # The command name (field 2) may contain spaces; the fields after its closing parenthesis do not.
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        pid, ppid = int(stat_file.parent.name), int(fields[1])
        if pid == master_pid or ppid == master_pid:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def compare(
    base_url: str,
    authorization: str,
    *,
    server_pid: int | None = None,
    authenticated_path: str = "/api/whoami/",
    baseline_path: str = "/api/ping/",
    rounds: int = 5,
    seconds: float = 3.0,
    connections: int = 32,
    threads: int = 2,
) -> dict:
    """Load both endpoints in alternating rounds (after a short warm-up of each) and summarise each."""
    targets = {
        "authenticated": (base_url + authenticated_path, authorization),
        "baseline": (base_url + baseline_path, ""),
    }
    for url, auth in targets.values():
        wrk_run(url, seconds=1, connections=connections, threads=threads, authorization=auth)
    runs: dict[str, list[dict]] = {"authenticated": [], "baseline": []}
    for index in range(rounds):
        order = ("baseline", "authenticated") if index % 2 == 0 else ("authenticated", "baseline")
        for name in order:
            url, auth = targets[name]
            cpu_before = server_cpu_seconds(server_pid) if server_pid else None
            run = wrk_run(url, seconds=seconds, connections=connections, threads=threads, authorization=auth)
            cpu_after = server_cpu_seconds(server_pid) if server_pid else None
            run["rps"] = run["requests"] / (run["duration_us"] / 1e6)
            run["cpu_seconds"] = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
            runs[name].append(run)
    summary: dict = {}
    for name, results in runs.items():
        requests = sum(r["requests"] for r in results)
        cpu = [r["cpu_seconds"] for r in results]
        summary[name] = {
            "path": authenticated_path if name == "authenticated" else baseline_path,
            "requests": requests,
            "rps": statistics.median(r["rps"] for r in results),
            "p50_ms": statistics.median(r["p50_us"] for r in results) / 1000,
            "p99_ms": statistics.median(r["p99_us"] for r in results) / 1000,
            "errors": sum(r["socket_errors"] + r["non_2xx"] for r in results),
            "cpu_us_per_request": None if None in cpu else sum(cpu) / requests * 1e6,
            "rps_per_round": [round(r["rps"]) for r in results],
        }
    summary["rps_ratio"] = statistics.median(
        a["rps"] / b["rps"] for a, b in zip(runs["authenticated"], runs["baseline"], strict=True)
    )
    summary["settings"] = {
        "rounds": rounds,
        "seconds_per_run": seconds,
        "connections": connections,
        "wrk_threads": threads,
    }
    return summary
