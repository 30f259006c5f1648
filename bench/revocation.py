"""Revocation propagation: how long after a logout at the issuer a still-unexpired access token is refused
(401) by each relying app, measured over real HTTP against running servers.

`measure_revocation_propagation(stack)` measures it on a running stack (tests/servers.py); `make bench`
calls it. Run alone, `.venv/bin/python bench/revocation.py [--interval SECONDS] [--samples N] [--json]`
starts its own three sites on free loopback ports with temporary databases, prints the figure, and stops
every server it started. The relying apps' interval is the stack's SSO_REVOCATION_REFRESH_SECONDS (the
settings default, 5 s, unless set); the design's promise is the interval plus a second."""

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.servers import Stack, prepare_stack  # noqa: E402

# Each relying app's endpoint a token is tried against (a GET that needs a valid token and nothing else).
APPS = {"orders": "/api/orders/", "products": "/api/products/"}
# settings/relying.py's default for SSO_REVOCATION_REFRESH_SECONDS, when the stack does not set it.
DEFAULT_INTERVAL_SECONDS = 5.0
BUDGET_MARGIN_SECONDS = 1.0
POLL_SECONDS = 0.01


def relying_interval(stack: Stack) -> float:
    return float(stack.env.get("SSO_REVOCATION_REFRESH_SECONDS") or DEFAULT_INTERVAL_SECONDS)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def seconds_until_refused(
    stack: Stack, access: str, *, since: float, timeout: float, apps: dict[str, str] = APPS
) -> dict[str, float | None]:
    """Poll every app (one thread each) with `access` until it answers 401; return the seconds from `since`
    (a time.monotonic() reading) to that first 401, or None for an app that still accepted it at `timeout`.
    Any answer other than 200 or 401 is an error, not a measurement."""
    refused_after: dict[str, float | None] = dict.fromkeys(apps)
    errors: list[str] = []

    def watch(app: str, path: str) -> None:
        url = f"{stack.internal[app]}{path}"
        with requests.Session() as session:
            while time.monotonic() - since < timeout:
                status = session.get(url, headers=_bearer(access), timeout=5).status_code
                if status == 401:
                    refused_after[app] = time.monotonic() - since
                    return
                if status != 200:
                    errors.append(f"{app} answered {status}")
                    return
                time.sleep(POLL_SECONDS)

    threads = [threading.Thread(target=watch, args=item) for item in apps.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 10)
    if errors:
        raise RuntimeError("; ".join(errors))
    return refused_after


def measure_revocation_propagation(stack: Stack, *, samples: int = 3, username: str = "bob") -> dict:
    """Seconds from a logout at the issuer to the first 401 at each relying app, over `samples` logouts.

    Each sample signs `username` in, has both apps accept the access token (so it also sits in their
    verified-token caches: revocation must reach cached tokens too), waits a random part of the interval
    (so the samples fall at different points of the refresh cycle), logs out with the refresh token, and
    polls both apps every 10 ms with the still-unexpired access token, timing from the logout request.
    Bounded: each sample gives up after the interval plus five seconds.

    Returns {"interval_seconds", "budget_seconds" (interval + 1 s), "samples", "seconds" (app -> one
    figure per logout, None when not refused in time), "worst_seconds" and "median_seconds" (app ->
    figure), "within_budget" (every figure within the budget)}."""
    interval = relying_interval(stack)
    budget = interval + BUDGET_MARGIN_SECONDS
    timeout = interval + 5.0
    seconds: dict[str, list[float | None]] = {app: [] for app in APPS}
    for _ in range(samples):
        pair = stack.token(username)
        for app, path in APPS.items():
            response = requests.get(f"{stack.internal[app]}{path}", headers=_bearer(pair["access"]), timeout=10)
            if response.status_code != 200:
                raise RuntimeError(f"{app} refused a fresh token: {response.status_code}")
        time.sleep(random.uniform(0, interval))  # noqa: S311  (spreading samples, not security)
        started = time.monotonic()
        logout = requests.post(f"{stack.internal['issuer']}/api/logout/", json={"refresh": pair["refresh"]}, timeout=10)
        logout.raise_for_status()
        for app, figure in seconds_until_refused(stack, pair["access"], since=started, timeout=timeout).items():
            seconds[app].append(figure)
    measured = {app: [f for f in figures if f is not None] for app, figures in seconds.items()}
    complete = all(len(measured[app]) == len(seconds[app]) for app in APPS)
    return {
        "interval_seconds": interval,
        "budget_seconds": budget,
        "samples": samples,
        "seconds": seconds,
        "worst_seconds": {app: max(figures) if complete else None for app, figures in measured.items()},
        "median_seconds": {app: statistics.median(f) if f else None for app, f in measured.items()},
        "within_budget": complete and all(f <= budget for figures in measured.values() for f in figures),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, help="the relying apps' SSO_REVOCATION_REFRESH_SECONDS")
    parser.add_argument("--samples", type=int, default=3, help="logouts to time (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    extra_env = {"SSO_REVOCATION_REFRESH_SECONDS": str(args.interval)} if args.interval else {}
    with tempfile.TemporaryDirectory(prefix="sso-revocation-bench-") as tmp:
        stack = prepare_stack(Path(tmp), extra_env=extra_env)
        try:
            for site in ("issuer", "orders", "products"):
                stack.start(site)
            result = measure_revocation_propagation(stack, samples=args.samples)
        finally:
            stack.stop_all()
    if args.json:
        print(json.dumps(result))
        return 0 if result["within_budget"] else 1

    def figure(value: float | None) -> str:
        return "not refused in time" if value is None else f"{value:.2f} s"

    print(
        f"revocation propagation, logout to first 401 ({result['samples']} logouts; relying apps' interval "
        f"{result['interval_seconds']:g} s, budget {result['budget_seconds']:g} s):"
    )
    for app in APPS:
        print(
            f"  {app:<9} worst {figure(result['worst_seconds'][app])}, median {figure(result['median_seconds'][app])}"
        )
    print(f"  within budget: {'yes' if result['within_budget'] else 'NO'}")
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
