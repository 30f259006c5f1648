"""A sign-in storm at a real issuer (gunicorn, one worker of four threads, the real password hasher): password
hashing runs under a bounded concurrency, so every sign-in gets 200 or a clean 503 with Retry-After instead of
queueing past its client's timeout, and refresh, the JWKS and the revocation list keep answering meanwhile."""

import threading
from collections import Counter

import pytest
import requests

from tests.servers import DEMO_PASSWORD, running_stack

SIGN_INS = 40
CHEAP_REQUESTS = 6
# The clients' patience. A sign-in queued behind forty password hashes on two cores waits longer than this.
SIGN_IN_TIMEOUT_SECONDS = 10
CHEAP_TIMEOUT_SECONDS = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("storm")) as stack:
        yield stack


def outcome(send) -> int | str:
    try:
        response = send()
    except requests.Timeout:
        return "timeout"
    except requests.ConnectionError:
        return "error"
    if response.status_code == 503 and not response.headers.get("Retry-After", "").isdigit():
        return "503 without Retry-After"
    return response.status_code


def test_a_sign_in_storm_leaves_the_cheap_endpoints_answering(stack):
    issuer = stack.internal["issuer"]
    refresh = stack.token("bob")["refresh"]
    outcomes: dict[str, Counter] = {"sign_in": Counter(), "cheap": Counter()}
    lock = threading.Lock()
    storm_started = threading.Barrier(SIGN_INS + 1)

    def sign_in() -> None:
        storm_started.wait()
        result = outcome(
            lambda: requests.post(
                f"{issuer}/api/token/",
                json={"username": "bob", "password": DEMO_PASSWORD},
                timeout=SIGN_IN_TIMEOUT_SECONDS,
            )
        )
        with lock:
            outcomes["sign_in"][result] += 1

    def cheap(name: str, send) -> None:
        result = outcome(send)
        with lock:
            outcomes["cheap"][(name, result)] += 1

    storm = [threading.Thread(target=sign_in) for _ in range(SIGN_INS)]
    for thread in storm:
        thread.start()
    storm_started.wait()
    # Sent behind the storm, each on its own connection, as relying apps' refreshers and people's scripts are.
    cheap_calls = []
    for _ in range(CHEAP_REQUESTS):
        cheap_calls += [
            threading.Thread(
                target=cheap,
                args=("jwks", lambda: requests.get(f"{issuer}/.well-known/jwks.json", timeout=CHEAP_TIMEOUT_SECONDS)),
            ),
            threading.Thread(
                target=cheap,
                args=("revocations", lambda: requests.get(f"{issuer}/api/revocations/", timeout=CHEAP_TIMEOUT_SECONDS)),
            ),
        ]
    cheap_calls.append(
        threading.Thread(
            target=cheap,
            args=(
                "refresh",
                lambda: requests.post(
                    f"{issuer}/api/token/refresh/", json={"refresh": refresh}, timeout=CHEAP_TIMEOUT_SECONDS
                ),
            ),
        )
    )
    for thread in cheap_calls:
        thread.start()
    for thread in storm + cheap_calls:
        thread.join()

    assert set(outcomes["sign_in"]) <= {200, 503}, outcomes
    assert outcomes["sign_in"][200] >= 1, outcomes
    assert outcomes["cheap"] == Counter(
        {("jwks", 200): CHEAP_REQUESTS, ("revocations", 200): CHEAP_REQUESTS, ("refresh", 200): 1}
    ), outcomes
