"""The refresh path does the least work a durable rotation needs (one locked read, one update, the audit event,
one signature), and what it no longer looks up per refresh (apps, roles) still follows every change."""

import jwt
import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from issuer.models import AuditEvent, RelyingApp, SSOSession
from issuer.services.sessions import AudienceNotAllowed, session_refresh, session_start

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT")


def claims(access: str) -> dict:
    return jwt.decode(access, options={"verify_signature": False})


class Chain:
    """One session's refresh chain: each refresh spends the previous refresh token."""

    def __init__(self, user) -> None:
        self.pair = session_start(user=user)

    def refresh(self) -> dict:
        self.pair = session_refresh(raw_refresh=self.pair.refresh)
        return claims(self.pair.access)


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if not query["sql"].startswith(TRANSACTION_CONTROL)]


def test_a_refresh_is_one_locked_read_one_update_and_the_audit_insert(users):
    chain = Chain(users["bob"])
    chain.refresh()  # the first refresh after sign-on is no different, but warm everything up anyway
    with CaptureQueriesContext(connection) as queries:
        chain.refresh()
    sql = statements(queries)
    if connection.vendor == "postgresql":
        # The ordinary case in one statement: the update (its row lock the locked read's), the audit insert
        # from the updated row, and the client joined.
        assert len(sql) == 1 and sql[0].startswith("WITH rotated AS (UPDATE"), sql
        assert '"auth_user"' in sql[0] and 'INSERT INTO "issuer_auditevent"' in sql[0]
        assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESHED, sid=chain.pair.session.sid).count() == 2
        return
    assert [statement.split(" ", 1)[0] for statement in sql] == ["SELECT", "UPDATE", "INSERT"], sql
    read, update, insert = sql
    assert '"auth_user"' in read, "the session's user comes with the session, in the same read"
    if connection.features.has_select_for_update_of:
        assert "FOR UPDATE OF" in read
    assert '"issuer_ssosession"' in update and '"issuer_auditevent"' in insert
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESHED, sid=chain.pair.session.sid).count() == 2


def test_sign_on_keeps_the_apps_and_roles_on_the_session(users):
    pair = session_start(user=users["carol"])
    session = SSOSession.objects.get(sid=pair.session.sid)
    assert session.token_audiences == ["products"]
    assert session.token_roles == ["catalog_manager"]
    assert claims(pair.access)["aud"] == ["products"] and claims(pair.access)["roles"] == ["catalog_manager"]


def test_a_role_given_or_taken_reaches_the_next_refresh(users):
    bob = users["bob"]
    chain = Chain(bob)
    assert chain.refresh()["roles"] == []
    manager = Group.objects.get(name="catalog_manager")
    bob.groups.add(manager)
    assert chain.refresh()["roles"] == ["catalog_manager"]
    bob.groups.remove(manager)
    assert chain.refresh()["roles"] == []
    manager.user_set.add(bob)  # from the group's side
    assert chain.refresh()["roles"] == ["catalog_manager"]
    manager.name = "catalogue_editor"
    manager.save()
    assert chain.refresh()["roles"] == ["catalogue_editor"]
    manager.delete()
    assert chain.refresh()["roles"] == []


def test_app_access_given_or_taken_reaches_the_next_refresh(users, apps):
    bob, carol = users["bob"], users["carol"]
    bobs, carols = Chain(bob), Chain(carol)
    assert bobs.refresh()["aud"] == ["orders", "products"]
    bob.relying_apps.remove(apps["orders"])
    assert bobs.refresh()["aud"] == ["products"]
    apps["orders"].users.add(bob)  # from the app's side
    assert bobs.refresh()["aud"] == ["orders", "products"]

    apps["orders"].groups.add(Group.objects.get(name="catalog_manager"))  # carol's group may now use orders
    assert carols.refresh()["aud"] == ["orders", "products"]
    apps["orders"].is_active = False
    apps["orders"].save()
    assert bobs.refresh()["aud"] == ["products"] and carols.refresh()["aud"] == ["products"]
    RelyingApp.objects.create(name="Invoices", audience="invoices", origin="http://localhost:8003", is_active=True)
    carol.is_superuser = True
    carol.save()
    assert carols.refresh()["aud"] == ["invoices", "products"]


def test_a_narrowed_session_is_refused_once_its_app_is_taken_away(users, apps):
    bob = users["bob"]
    pair = session_refresh(raw_refresh=session_start(user=bob, audience="orders").refresh)
    assert claims(pair.access)["aud"] == ["orders"]
    bob.relying_apps.remove(apps["orders"])
    with pytest.raises(AudienceNotAllowed):
        session_refresh(raw_refresh=pair.refresh)


def test_what_the_general_path_decides_still_takes_it(users, apps):
    """The one-statement rotation (PostgreSQL) matches only the ordinary case; a reused token, an inactive
    user and apps or roles to work out again go the general way, with the same outcome on every database."""
    from issuer.services.sessions import RefreshRejected

    bob = users["bob"]
    first = session_start(user=bob)
    second = session_refresh(raw_refresh=first.refresh)
    bob.relying_apps.remove(apps["orders"])  # clears the session's apps: the general path works them out
    third = session_refresh(raw_refresh=second.refresh)
    assert claims(third.access)["aud"] == ["products"]
    bob.is_active = False
    bob.save()
    with pytest.raises(RefreshRejected):
        session_refresh(raw_refresh=third.refresh)
    assert SSOSession.objects.get(sid=first.session.sid).revoked_reason == SSOSession.RevokedReason.USER_DEACTIVATED


def test_a_rotated_pair_names_the_session_as_stored(users, apps):
    """What the rotation returns is what the database holds: the new jti, the refresh time, the expiry."""
    pair = session_refresh(raw_refresh=session_start(user=users["bob"]).refresh)
    stored = SSOSession.objects.select_related("user").get(sid=pair.session.sid)
    refresh_claims = jwt.decode(pair.refresh, options={"verify_signature": False})
    assert stored.refresh_jti == refresh_claims["jti"] == pair.session.refresh_jti
    assert stored.last_refreshed_at == pair.session.last_refreshed_at
    assert abs((stored.expires_at - pair.session.expires_at).total_seconds()) < 1e-3
    assert pair.session.user.username == "bob" and claims(pair.access)["sub"] == str(stored.user.pk)
