"""Two (here eight) concurrent refreshes with the same refresh token: exactly one succeeds. Proven against a
real issuer under gunicorn (three workers of four threads, so the requests really run at once), on SQLite and
on PostgreSQL, where it is the session row lock (SELECT ... FOR UPDATE) that serialises them.

The losers present a token the winner has just rotated, which is what a replay looks like, so the session is
revoked as refresh-token reuse: a client must not refresh one token twice at once (the browser flow gives
concurrent renewals from one cookie the first renewal's result instead; see issuer/services/browser.py)."""

import json
import threading
from collections.abc import Iterator

import jwt
import pytest
import requests

from tests.servers import Stack, fresh_postgres_databases, prepare_stack

CONCURRENT = 8
ROUNDS = 5


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def issuer_stack(request, tmp_path_factory) -> Iterator[Stack]:
    """An issuer alone, on an SQLite file or on a fresh PostgreSQL database, under gunicorn."""
    tmp_path = tmp_path_factory.mktemp(f"race-{request.param}")
    if request.param == "sqlite":
        stack = prepare_stack(tmp_path)
        try:
            stack.start("issuer", workers=3)
            yield stack
        finally:
            stack.stop_all()
        return
    postgres_url = request.getfixturevalue("postgres_url")
    with fresh_postgres_databases(postgres_url, names=("issuer",)) as database_env:
        stack = prepare_stack(tmp_path, extra_env=database_env)
        try:
            stack.start("issuer", workers=3)
            yield stack
        finally:
            stack.stop_all()


def concurrent_refreshes(stack: Stack, refresh: str) -> list[requests.Response]:
    barrier = threading.Barrier(CONCURRENT)
    responses: list[requests.Response | None] = [None] * CONCURRENT

    def refresh_once(index: int) -> None:
        barrier.wait(timeout=10)
        responses[index] = requests.post(
            f"{stack.internal['issuer']}/api/token/refresh/", json={"refresh": refresh}, timeout=30
        )

    threads = [threading.Thread(target=refresh_once, args=(i,)) for i in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(response is not None for response in responses)
    return responses


def session_rows(stack: Stack, sids: list[str]) -> dict:
    """What the issuer's database says about these sessions (read in a manage.py shell, any backend)."""
    output = stack.manage(
        "issuer",
        "shell",
        "-c",
        "import json\n"
        "from issuer.models import AuditEvent, SSOSession\n"
        f"sids = {sids!r}\n"
        "rows = {s.sid: {'refresh_jti': s.refresh_jti, 'reason': s.revoked_reason, 'reuse_events': "
        "AuditEvent.objects.filter(sid=s.sid, kind=AuditEvent.Kind.REFRESH_REUSED).count()} "
        "for s in SSOSession.objects.filter(sid__in=sids)}\n"
        "print(json.dumps(rows))\n",
    )
    return json.loads(output.strip().splitlines()[-1])


def test_of_concurrent_refreshes_with_one_token_exactly_one_succeeds(issuer_stack):
    rounds = []
    for _ in range(ROUNDS):
        pair = issuer_stack.token("bob")
        responses = concurrent_refreshes(issuer_stack, pair["refresh"])
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [401] * (CONCURRENT - 1), statuses
        winner = next(response.json() for response in responses if response.status_code == 200)
        assert winner["sid"] == pair["sid"]
        rounds.append((pair["sid"], winner))

    rows = session_rows(issuer_stack, [sid for sid, _ in rounds])
    for sid, winner in rounds:
        # One rotation happened (the stored refresh jti is the winner's), the others were seen as replays:
        # the session is revoked for reuse, with one audit event however many replays there were.
        winner_jti = jwt.decode(winner["refresh"], options={"verify_signature": False})["jti"]
        assert rows[sid] == {"refresh_jti": winner_jti, "reason": "refresh_reuse", "reuse_events": 1}
        again = requests.post(
            f"{issuer_stack.internal['issuer']}/api/token/refresh/", json={"refresh": winner["refresh"]}, timeout=10
        )
        assert again.status_code == 401


def test_sequential_refreshes_each_succeed(issuer_stack):
    """The control: the same number of refreshes, one after another, each with the latest token, all succeed."""
    pair = issuer_stack.token("bob")
    for _ in range(CONCURRENT):
        response = requests.post(
            f"{issuer_stack.internal['issuer']}/api/token/refresh/", json={"refresh": pair["refresh"]}, timeout=10
        )
        assert response.status_code == 200
        pair = response.json()
    assert session_rows(issuer_stack, [pair["sid"]])[pair["sid"]]["reason"] == ""
