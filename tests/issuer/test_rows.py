"""The refresh's precompiled statements (issuer.services.rows) read and write exactly what the ORM would."""

import pytest
from django.db import transaction

from issuer import clock
from issuer.models import AuditEvent, SSOSession
from issuer.services.audit import audit_record
from issuer.services.rows import CLIENT_FIELDS, SESSION_FIELDS, USER_FIELDS, session_fields_save, session_locked_read
from issuer.services.sessions import session_start
from tests.issuer.oidc.signed_on import client_sign_on, oidc_client

pytestmark = pytest.mark.django_db


def _values(instance, names) -> dict:
    return {name: getattr(instance, instance._meta.get_field(name).attname) for name in names}


@pytest.fixture
def sessions(users, apps) -> dict[str, SSOSession]:
    plain = session_start(user=users["bob"], ip="192.0.2.7").session
    app = apps["orders"]
    app.client_id = "orders"
    app.save()
    client = client_sign_on(browser=plain, app=oidc_client(app, origin="http://localhost:8001")).session
    return {"plain": plain, "client": client}


@pytest.mark.parametrize("kind", ["plain", "client"])
def test_the_locked_read_gives_what_the_orm_gives(sessions, kind):
    expected = SSOSession.objects.select_related("user", "client").get(pk=sessions[kind].pk)
    with transaction.atomic():
        session = session_locked_read(sid=expected.sid)
    assert _values(session, SESSION_FIELDS) == _values(expected, SESSION_FIELDS)
    assert _values(session.user, USER_FIELDS) == _values(expected.user, USER_FIELDS)
    assert type(session.user.is_active) is bool and session.created_at.tzinfo is not None
    if kind == "client":
        assert _values(session.client, CLIENT_FIELDS) == _values(expected.client, CLIENT_FIELDS)
    else:
        assert session.client is None
    # Fields it does not read are deferred, loaded on first use like QuerySet.only()'s.
    assert session.ip_address == expected.ip_address


def test_a_session_that_does_not_exist_reads_as_none(users):
    with transaction.atomic():
        assert session_locked_read(sid="no-such-session") is None


def test_the_update_writes_the_named_fields_only(sessions):
    session = sessions["plain"]
    later = clock.now()
    session.last_refreshed_at, session.token_roles, session.user_agent = later, ["a", "b"], "not saved"
    session_fields_save(session=session, names=["last_refreshed_at", "token_roles"])
    stored = SSOSession.objects.get(pk=session.pk)
    assert stored.last_refreshed_at == later and stored.token_roles == ["a", "b"] and stored.user_agent == ""


def test_an_audit_event_is_stored_as_create_stores_it(users):
    before = clock.now()
    audit_record(kind=AuditEvent.Kind.REFRESHED, user=users["bob"], sid="s1", ip="2001:db8::1", detail="d" * 300)
    event = AuditEvent.objects.get(sid="s1")
    assert (event.kind, event.user, event.username, event.ip_address) == (
        "refreshed",
        users["bob"],
        "bob",
        "2001:db8::1",
    )
    assert event.detail == "d" * 200 and event.created_at >= before
