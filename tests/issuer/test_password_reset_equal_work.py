"""Password reset must not tell known addresses from unknown ones by how long the answer takes: both paths
make the same queries, sign and render the same, and hand the mail off after answering. Checked by what the
code does (queries, calls). The time itself is measured by `make bench` (bench/reset_timing.py: medians of
interleaved requests over HTTP), not here: a timed test flakes on a busy machine."""

import re
import threading
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from issuer.services import password_reset

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()
SURFACES = {
    "api": lambda client, email: client.post("/api/password-reset/", {"email": email}, content_type="application/json"),
    "page": lambda client, email: client.post("/password-reset/", {"email": email}),
}


def fresh_address() -> str:
    return f"someone-{uuid.uuid4().hex[:12]}@example.com"


def known_address() -> str:
    email = fresh_address()
    User.objects.create_user(f"user-{uuid.uuid4().hex[:12]}", email, PASSWORD)
    return email


def query_shapes(queries: list[dict]) -> list[str]:
    """The SQL with its values taken out: which queries ran, not with what."""
    shapes = []
    for query in queries:
        sql = re.sub(r"'[^']*'|\"s\d+_x\d+\"", "?", query["sql"])
        shapes.append(re.sub(r"\b(NULL|\d+(\.\d+)?)\b", "?", sql))
    return shapes


@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_known_and_unknown_addresses_make_the_same_queries(client, surface):
    send = SURFACES[surface]
    shapes = {}
    for kind, email in (("known", known_address()), ("unknown", fresh_address())):
        with CaptureQueriesContext(connection) as captured:
            assert send(client, email).status_code in (202, 302)
        shapes[kind] = query_shapes(captured.captured_queries)
    assert shapes["known"] == shapes["unknown"]


@pytest.mark.parametrize("spent", [False, True], ids=["within-budget", "budget-spent"])
def test_known_and_unknown_addresses_do_the_same_work(client, settings, monkeypatch, spent):
    """The same signing, rendering, budget and hand-off calls, counted per request."""
    settings.SSO_PASSWORD_RESET_MAIL_IN_BACKGROUND = True
    calls: list[str] = []
    for name in ("_token_for", "_message", "_may_mail"):
        real = getattr(password_reset, name)
        monkeypatch.setattr(
            password_reset, name, lambda *a, _real=real, _name=name, **k: (calls.append(_name), _real(*a, **k))[1]
        )
    real_thread = password_reset.threading.Thread
    monkeypatch.setattr(
        password_reset.threading, "Thread", lambda *a, **k: (calls.append("hand-off"), real_thread(*a, **k))[1]
    )
    work = {}
    for kind, email in (("known", known_address()), ("unknown", fresh_address())):
        if spent:
            for _ in range(password_reset.MAILS_PER_ADDRESS):
                password_reset.password_reset_request(email=email)
        calls.clear()
        password_reset.password_reset_request(email=email)
        work[kind] = sorted(calls)
    for thread in threading.enumerate():
        if thread.name == "password-reset-mail":
            thread.join(timeout=10)
    assert work["known"] == work["unknown"]
    assert work["known"].count("_token_for") == 1 and "hand-off" in work["known"]
