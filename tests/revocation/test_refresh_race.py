"""Two (here eight) concurrent refreshes with the same refresh token: one rotation, answered to every one of
them. Proven against a real issuer under gunicorn (three workers of four threads, so the requests really run at
once), on SQLite and on PostgreSQL, where it is the session row lock (SELECT ... FOR UPDATE) that serialises
them.

The one that takes the lock first rotates; the others then present the token it replaced, seconds after its
rotation and before its successor was used: the same client retrying (a lost answer, racing tabs), which gets
the rotation's pair again instead of revoking the session (issuer.services.sessions.refresh_is_retry). A
replay later, or after the successor was used, still revokes (tests/issuer/test_refresh_retry.py)."""

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


def test_concurrent_refreshes_with_one_token_share_one_rotation(issuer_stack):
    rounds = []
    for _ in range(ROUNDS):
        pair = issuer_stack.token("bob")
        responses = concurrent_refreshes(issuer_stack, pair["refresh"])
        assert [response.status_code for response in responses] == [200] * CONCURRENT
        answers = [response.json() for response in responses]
        assert {answer["sid"] for answer in answers} == {pair["sid"]}
        rounds.append((pair["sid"], answers))

    rows = session_rows(issuer_stack, [sid for sid, _ in rounds])
    for sid, answers in rounds:
        # One rotation happened: every answer carries the refresh jti the session stores, nothing was revoked
        # and no reuse was recorded.
        jtis = {jwt.decode(answer["refresh"], options={"verify_signature": False})["jti"] for answer in answers}
        assert jtis == {rows[sid]["refresh_jti"]}
        assert rows[sid] == {"refresh_jti": rows[sid]["refresh_jti"], "reason": "", "reuse_events": 0}
        again = requests.post(
            f"{issuer_stack.internal['issuer']}/api/token/refresh/", json={"refresh": answers[0]["refresh"]}, timeout=10
        )
        assert again.status_code == 200


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
