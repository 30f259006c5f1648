"""Sessions, revocation and key rotation across real HTTP: the three sites under gunicorn (tests/servers.py),
the relying apps refreshing the revocation list every INTERVAL seconds. Every delay asserted here is measured
against running servers, from the moment the revoking call returned to the first 401 at each app."""

import itertools
import random
import threading
import time
import uuid

import jwt
import pytest
import requests

from bench.revocation import APPS, measure_revocation_propagation, seconds_until_refused
from tests.keys import mint_token
from tests.servers import wait_until

from .conftest import INTERVAL, log_text

BUDGET = INTERVAL + 1.0


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def status_at(stack, app: str, token: str) -> int:
    return requests.get(f"{stack.internal[app]}{APPS[app]}", headers=bearer(token), timeout=10).status_code


def accepted_everywhere(stack, token: str, apps=tuple(APPS)) -> None:
    for app in apps:
        assert status_at(stack, app, token) == 200, app


def refused_within_budget(stack, token: str, *, since: float, apps=tuple(APPS)) -> dict[str, float]:
    delays = seconds_until_refused(stack, token, since=since, timeout=BUDGET + 3, apps={a: APPS[a] for a in apps})
    for app, delay in delays.items():
        assert delay is not None, f"{app} still accepts the token {BUDGET + 3} s after its session ended"
        assert delay <= BUDGET, f"{app} took {delay:.2f} s, over the interval plus a second ({BUDGET} s)"
    return delays


def issuer_post(stack, path: str, **kwargs) -> requests.Response:
    return requests.post(f"{stack.internal['issuer']}{path}", timeout=10, **kwargs)


def shell(stack, code: str) -> str:
    return stack.manage("issuer", "shell", "-c", code)


# ---- revocation reaches offline verifiers --------------------------------------------------------------


def test_logout_makes_an_unexpired_token_fail_at_both_apps_within_the_interval_plus_a_second(stack):
    kept = stack.token("bob")
    for _ in range(3):  # three logouts, at different points of the apps' refresh cycle
        pair = stack.token("bob")
        accepted_everywhere(stack, pair["access"])
        time.sleep(random.uniform(0, INTERVAL))
        started = time.monotonic()
        assert issuer_post(stack, "/api/logout/", json={"refresh": pair["refresh"]}).status_code == 200
        refused_within_budget(stack, pair["access"], since=started)
        assert jwt.decode(pair["access"], options={"verify_signature": False})["exp"] > time.time(), "still unexpired"
    accepted_everywhere(stack, kept["access"])  # revocation is per session, not per user


def test_the_benchmark_figure(stack):
    result = measure_revocation_propagation(stack, samples=2)
    assert result["interval_seconds"] == INTERVAL
    assert result["budget_seconds"] == BUDGET
    assert all(len(figures) == 2 for figures in result["seconds"].values())
    assert result["within_budget"], result
    assert all(0 < result["worst_seconds"][app] <= BUDGET for app in APPS)


def test_refresh_reuse_ends_the_session_at_both_apps(stack):
    stolen = stack.token("bob")
    rotated = issuer_post(stack, "/api/token/refresh/", json={"refresh": stolen["refresh"]}).json()
    # The owner goes on refreshing; the stolen token is replayed after that (sooner, it would be a retry).
    rotated = issuer_post(stack, "/api/token/refresh/", json={"refresh": rotated["refresh"]}).json()
    accepted_everywhere(stack, rotated["access"])
    started = time.monotonic()
    assert issuer_post(stack, "/api/token/refresh/", json={"refresh": stolen["refresh"]}).status_code == 401
    refused_within_budget(stack, rotated["access"], since=started)


@pytest.mark.parametrize(
    "change",
    [
        "user.is_active = False; user.save()",
        "user.set_password('a brand new passphrase 42'); user.save()",
        "user.delete()",
    ],
    ids=["deactivation", "password-change", "deletion"],
)
def test_changes_to_the_user_end_their_sessions_at_both_apps(stack, change):
    username = f"user-{uuid.uuid4().hex[:8]}"
    shell(
        stack,
        "from django.contrib.auth import get_user_model\n"
        "from issuer.models import RelyingApp\n"
        f"user = get_user_model().objects.create_user({username!r}, password={stack.env['DEMO_PASSWORD']!r})\n"
        "user.relying_apps.set(RelyingApp.objects.all())\n",
    )
    access = stack.token(username)["access"]
    accepted_everywhere(stack, access)
    # Another process (a shell, like the admin or a password reset in another worker) makes the change.
    shell(
        stack,
        f"from django.contrib.auth import get_user_model\nuser = get_user_model().objects.get(username={username!r})\n{change}\n",
    )
    refused_within_budget(stack, access, since=time.monotonic())


# ---- sessions through the issuer API -----------------------------------------------------------------------


def test_people_list_and_revoke_their_own_sessions_over_http(stack):
    # The account API takes a token asked for it ("audience": "sso"); the apps take the default ones.
    mine, my_other_device, somebody_else = (
        stack.token("carol", audience="sso"),
        stack.token("carol"),
        stack.token("bob"),
    )
    me = bearer(mine["access"])
    listed = requests.get(f"{stack.internal['issuer']}/api/sessions/", headers=me, timeout=10)
    assert listed.status_code == 200
    sessions = {s["sid"]: s for s in listed.json()["results"]}
    assert {mine["sid"], my_other_device["sid"]} <= set(sessions)
    assert somebody_else["sid"] not in sessions
    assert sessions[mine["sid"]]["current"] is True and sessions[my_other_device["sid"]]["current"] is False
    assert "refresh_jti" not in sessions[mine["sid"]]

    assert issuer_post(stack, f"/api/sessions/{somebody_else['sid']}/revoke/", headers=me).status_code == 404
    started = time.monotonic()
    assert issuer_post(stack, f"/api/sessions/{my_other_device['sid']}/revoke/", headers=me).status_code == 204
    refused_within_budget(stack, my_other_device["access"], since=started, apps=("products",))
    assert requests.get(f"{stack.internal['issuer']}/api/sessions/", headers=me, timeout=10).status_code == 200
    accepted_everywhere(stack, somebody_else["access"])

    third = stack.token("carol")
    started = time.monotonic()
    everywhere = issuer_post(stack, "/api/logout/everywhere/", headers=me)
    assert everywhere.status_code == 200 and everywhere.json()["sessions_revoked"] >= 2
    refused_within_budget(stack, third["access"], since=started, apps=("products",))
    assert requests.get(f"{stack.internal['issuer']}/api/sessions/", headers=me, timeout=10).status_code == 401
    accepted_everywhere(stack, somebody_else["access"])


# ---- key rotation under traffic ------------------------------------------------------------------------


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_rotation_under_continuous_traffic_fails_no_request(stack):
    """Several threads keep calling orders and products with tokens minted before and after a rotation made
    by `manage.py rotate_signing_key` in another process; every answer must be 200."""
    old_kid = kid_of(stack.token("bob")["access"])
    tokens = [stack.token("bob")["access"], stack.token("alice")["access"]]
    chain = stack.token("bob")
    results: list[tuple[str, str, int]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def traffic() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                with lock:
                    token = random.choice(tokens[-6:] + tokens[:2])  # the newest, and the oldest (old key)
                for app, path in APPS.items():
                    status = session.get(f"{stack.internal[app]}{path}", headers=bearer(token), timeout=10).status_code
                    with lock:
                        results.append((app, kid_of(token), status))
                stop.wait(0.01)

    def mint() -> None:
        nonlocal chain
        while not stop.is_set():
            response = issuer_post(stack, "/api/token/refresh/", json={"refresh": chain["refresh"]})
            with lock:
                results.append(("issuer", "-", response.status_code))
                if response.status_code == 200:
                    chain = response.json()
                    tokens.append(chain["access"])
            stop.wait(0.2)

    threads = [threading.Thread(target=traffic) for _ in range(4)] + [threading.Thread(target=mint)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)  # traffic before the rotation
        output = stack.manage("issuer", "rotate_signing_key")
        new_kid = output.split("New active signing key: ", 1)[1].split()[0]

        def new_key_served_everywhere() -> bool:
            with lock:
                served = [(app, status) for app, kid, status in results if kid == new_kid]
            return all(sum(1 for a, s in served if a == app and s == 200) >= 20 for app in APPS)

        assert wait_until(new_key_served_everywhere, timeout=20), "tokens of the new key never reached both apps"
        time.sleep(1.0)  # and traffic after it
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    failures = [r for r in results if r[2] != 200]
    assert failures == [], f"{len(failures)} failed requests of {len(results)}: {failures[:5]}"
    for app, kid in itertools.product(APPS, (old_kid, new_kid)):
        assert any(r[:2] == (app, kid) for r in results), f"{app} never saw a token of {kid}"
    published = requests.get(f"{stack.internal['issuer']}/.well-known/jwks.json", timeout=10).json()
    assert [key["kid"] for key in published["keys"]] == [new_kid, old_kid], "the old key stays until its tokens expire"


# ---- the issuer goes away and comes back ----------------------------------------------------------------


def test_the_apps_keep_working_while_the_issuer_is_down_and_recover(stack):
    live, never_presented = stack.token("bob"), stack.token("alice")
    ended = stack.token("bob")
    accepted_everywhere(stack, live["access"])
    started = time.monotonic()
    issuer_post(stack, "/api/logout/", json={"refresh": ended["refresh"]})
    refused_within_budget(stack, ended["access"], since=started)
    logs_before = {app: len(log_text(stack, app)) for app in APPS}

    stack.stop("issuer")
    try:
        outage = time.monotonic()
        while time.monotonic() - outage < 3 * INTERVAL + 1:
            accepted_everywhere(stack, live["access"])  # the last good keys
            for app in APPS:
                assert status_at(stack, app, ended["access"]) == 401  # the last good revocation list
                # An unknown kid makes the apps try the issuer for keys; the failure must wipe nothing.
                assert status_at(stack, app, mint_token(headers={"kid": f"unknown-{uuid.uuid4().hex}"})) == 401
            time.sleep(0.1)
        accepted_everywhere(stack, never_presented["access"])  # verified from the last good JWKS, not a cache
        for app in APPS:

            def stale_logged(app=app) -> bool:
                text = log_text(stack, app)[logs_before[app] :]
                return "revocations_fetch_failed" in text and "jwks_fetch_failed" in text

            assert wait_until(stale_logged, timeout=5), f"{app} did not log that it is serving stale data"
            assert "serving=last_good" in log_text(stack, app)[logs_before[app] :]
    finally:
        stack.start("issuer", workers=2)

    again = stack.token("bob")
    accepted_everywhere(stack, again["access"])
    started = time.monotonic()
    issuer_post(stack, "/api/logout/", json={"refresh": again["refresh"]})
    refused_within_budget(stack, again["access"], since=started)
    for app in APPS:
        assert wait_until(lambda app=app: "revocations_recovered" in log_text(stack, app), timeout=5)
    accepted_everywhere(stack, live["access"])
