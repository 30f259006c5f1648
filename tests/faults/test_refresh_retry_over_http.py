"""A retried refresh is not a theft, at a real issuer: a client that timed out while the issuer (hung, then
resumed) rotated its token retries and keeps its session. (Concurrent refreshes with one token:
tests/revocation/test_refresh_race.py.)"""

import signal

import pytest
import requests

from tests.servers import running_stack

from .dependency_stack import signal_site


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("retry")) as stack:
        yield stack


def refresh(stack, token: str, *, timeout: float = 10) -> requests.Response:
    return requests.post(f"{stack.internal['issuer']}/api/token/refresh/", json={"refresh": token}, timeout=timeout)


def session_live(stack, sid: str) -> bool:
    revoked = requests.get(f"{stack.internal['issuer']}/api/revocations/", timeout=10).json()["revoked_sids"]
    return sid not in revoked


def test_a_client_that_timed_out_retries_and_keeps_its_session(stack):
    tokens = stack.token("bob")
    master = stack.processes["issuer"]
    signal_site(master, signal.SIGSTOP)
    try:
        # The request waits in the hung issuer's backlog; the client gives up.
        with pytest.raises(requests.Timeout):
            refresh(stack, tokens["refresh"], timeout=1)
    finally:
        signal_site(master, signal.SIGCONT)
    # Resumed, the issuer answers the abandoned request (the rotation happens); the client retries.
    retried = refresh(stack, tokens["refresh"])
    assert retried.status_code == 200, retried.text
    assert retried.json()["sid"] == tokens["sid"]
    assert refresh(stack, retried.json()["refresh"]).status_code == 200
    assert session_live(stack, tokens["sid"])
