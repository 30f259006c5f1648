"""Password-reset timing: whether `POST /api/password-reset/` answers an address with an account as fast as one
without, measured over real HTTP against a running issuer (issue 17 found 8 ms against 11 ms, classifiable
every time). The work itself is pinned by tests/issuer/test_password_reset_equal_work.py; this measures the
time, which a test on a busy machine cannot do without flaking.

`measure_reset_timing(stack)` measures a running stack (tests/servers.py); `make bench` calls it. Samples
are interleaved (known, unknown, unknown, known, ...) so a slow moment of the machine hits both kinds alike,
and compared by their medians, so a few outliers do not decide."""

import statistics
import time
import uuid

import requests

from tests.servers import Stack

# The difference of the medians, as a share of the faster one, that still counts as "the same time": the
# fix took it from about 35% (unknown slower) to within the noise of a loopback request.
TOLERANCE = 0.15


def _known_addresses(stack: Stack, count: int) -> list[str]:
    """Addresses of accounts made for the measurement (each asked for once, so no mail budget is spent)."""
    addresses = [f"bench-{uuid.uuid4().hex[:12]}@example.com" for _ in range(count)]
    script = (
        "from django.contrib.auth import get_user_model\n"
        "User = get_user_model()\n"
        f"User.objects.bulk_create([User(username=e.split('@')[0], email=e) for e in {addresses!r}])\n"
    )
    stack.manage("issuer", "shell", "-c", script)
    return addresses


def measure_reset_timing(stack: Stack, *, samples: int = 200) -> dict:
    url = f"{stack.internal['issuer']}/api/password-reset/"
    known = _known_addresses(stack, samples)
    unknown = [f"nobody-{uuid.uuid4().hex[:12]}@example.com" for _ in range(samples)]
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    with requests.Session() as session:
        session.post(url, json={"email": "warm-up@example.com"}, timeout=10)
        for index in range(samples):
            pair = [("known", known[index]), ("unknown", unknown[index])]
            for kind, email in pair if index % 2 else reversed(pair):
                started = time.perf_counter()
                response = session.post(url, json={"email": email}, timeout=10)
                times[kind].append(time.perf_counter() - started)
                if response.status_code != 202:
                    raise RuntimeError(f"password reset answered {response.status_code}")
    known_median, unknown_median = statistics.median(times["known"]), statistics.median(times["unknown"])
    difference = abs(known_median - unknown_median) / min(known_median, unknown_median)
    return {
        "samples": samples,
        "known_median_s": known_median,
        "unknown_median_s": unknown_median,
        "difference": difference,
        "tolerance": TOLERANCE,
    }
