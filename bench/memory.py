"""Section (g) of `make bench`: the resident memory of one relying worker (orders, one gunicorn sync worker)
while it serves many requests with many distinct tokens. Its verified-token cache holds at most
SSO_CLIENT["VERIFIED_CACHE_SIZE"] tokens (4,096 by default), so once that many distinct tokens have been seen
the worker's memory stops growing: the figure after the second half of the requests shows it."""

import time
from pathlib import Path

from bench.clients import Workload, run_load

PAGE_PATH = "/api/whoami/"  # needs a valid token and nothing else: no database, no calls out


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn master's children (its workers)."""
    children = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == master_pid:
            children.append(int(stat_file.parent.name))
    return children


def only_worker_pid(master_pid: int, *, timeout: float = 10) -> int:
    """The one worker of a gunicorn master: its port opens before it forks the worker, so poll for it."""
    deadline = time.monotonic() + timeout
    while (children := worker_pids(master_pid)) == [] and time.monotonic() < deadline:
        time.sleep(0.05)
    (worker,) = children
    return worker


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def measure_relying_memory(base_url: str, master_pid: int, tokens: list[str], *, requests: int, clients: int) -> dict:
    """RSS of the one worker after a warm-up, after half of `requests` and after all of them; the clients
    cycle through `tokens` (each client its own share), so every token is seen about requests/len(tokens)
    times and the verified-token cache sees every one of them."""
    worker = only_worker_pid(master_pid)
    shares = [tokens[index::clients] for index in range(clients)]

    def drive(count: int) -> dict:
        workloads = [Workload("get", PAGE_PATH, 200, bearers=share) for share in shares]
        return run_load(base_url, workloads, seconds=3600, max_requests_per_client=count // clients)

    warm = drive(clients * 10)
    rss_warm = resident_kib(worker)
    first = drive(requests // 2)
    rss_half = resident_kib(worker)
    second = drive(requests - requests // 2)
    rss_end = resident_kib(worker)
    return {
        "requests": first["requests"] + second["requests"],
        "distinct_tokens": len(tokens),
        "errors": warm["errors"] + first["errors"] + second["errors"],
        "rps": second["rps"],
        "rss_kib": {"warm": rss_warm, "half": rss_half, "end": rss_end},
    }
