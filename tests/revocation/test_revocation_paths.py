"""Every way a session ends puts its sid on the published revocation list, and only for as long as a
token of it can still be live. The issuer side; tests/revocation/test_over_http.py shows the relying side."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from issuer import clock
from issuer.models import AuditEvent, SSOSession
from issuer.services.revocations import REVOCATION_LIST_MARGIN, revoked_session_ids
from issuer.services.sessions import session_start, user_sessions_revoke

from .conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db


def revoked_sids(api) -> list[str]:
    response = api.get("/api/revocations/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-cache"
    return response.json()["revoked_sids"]


def test_a_live_session_is_not_on_the_list(api, users):
    pair = sign_in(api, "bob")
    assert pair["sid"] not in revoked_sids(api)


def test_logout_with_the_refresh_token(api, users):
    pair = sign_in(api, "bob")
    assert api.post("/api/logout/", {"refresh": pair["refresh"]}, format="json").status_code == 200
    assert pair["sid"] in revoked_sids(api)
    assert SSOSession.objects.get(sid=pair["sid"]).revoked_reason == SSOSession.RevokedReason.LOGOUT


def test_logout_with_the_access_token(api, users):
    pair = sign_in(api, "bob", audience="sso")
    response = api.post("/api/logout/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert response.status_code == 200
    assert pair["sid"] in revoked_sids(api)


def test_log_out_everywhere_revokes_every_session_of_the_user_only(api, users):
    first, second, other = sign_in(api, "bob", audience="sso"), sign_in(api, "bob"), sign_in(api, "alice")
    response = api.post("/api/logout/everywhere/", HTTP_AUTHORIZATION=f"Bearer {first['access']}")
    assert response.json()["sessions_revoked"] == 2
    listed = revoked_sids(api)
    assert {first["sid"], second["sid"]} <= set(listed)
    assert other["sid"] not in listed
    assert {s.revoked_reason for s in SSOSession.objects.filter(user=users["bob"])} == {
        SSOSession.RevokedReason.LOGOUT_EVERYWHERE
    }


def test_deactivating_a_user(api, users, django_capture_on_commit_callbacks):
    pair = sign_in(api, "bob")
    with django_capture_on_commit_callbacks(execute=True):
        users["bob"].is_active = False
        users["bob"].save()
    assert pair["sid"] in revoked_sids(api)
    assert SSOSession.objects.get(sid=pair["sid"]).revoked_reason == SSOSession.RevokedReason.USER_DEACTIVATED


def test_a_password_change(api, users, django_capture_on_commit_callbacks):
    pair = sign_in(api, "bob")
    with django_capture_on_commit_callbacks(execute=True):
        users["bob"].set_password("an entirely new passphrase 42")
        users["bob"].save()
    assert pair["sid"] in revoked_sids(api)
    assert SSOSession.objects.get(sid=pair["sid"]).revoked_reason == SSOSession.RevokedReason.PASSWORD_CHANGED


def test_saving_a_user_without_a_credentials_change_revokes_nothing(api, users, django_capture_on_commit_callbacks):
    pair = sign_in(api, "bob")
    with django_capture_on_commit_callbacks(execute=True):
        users["bob"].email = "robert@example.com"
        users["bob"].save()
    assert SSOSession.objects.get(sid=pair["sid"]).revoked_at is None


def test_a_rolled_back_deactivation_revokes_nothing(api, users, django_capture_on_commit_callbacks):
    from django.db import transaction

    pair = sign_in(api, "bob")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            users["bob"].is_active = False
            users["bob"].save()
            transaction.set_rollback(True)
    assert callbacks == []
    assert SSOSession.objects.get(sid=pair["sid"]).revoked_at is None


def test_deleting_a_user_keeps_their_sessions_on_the_list(api, users):
    """The sessions go with the user (cascade), but their access tokens do not; the list must still name them."""
    pair = sign_in(api, "bob")
    users["bob"].delete()
    assert not SSOSession.objects.filter(sid=pair["sid"]).exists()
    assert pair["sid"] in revoked_sids(api)
    event = AuditEvent.objects.get(sid=pair["sid"], kind=AuditEvent.Kind.SESSION_REVOKED)
    assert event.user is None and event.username == "bob"


def test_refresh_reuse_revokes_the_session_and_is_audited(api, users):
    first = sign_in(api, "bob")
    second = api.post("/api/token/refresh/", {"refresh": first["refresh"]}, format="json").json()
    second = api.post("/api/token/refresh/", {"refresh": second["refresh"]}, format="json").json()
    assert first["sid"] not in revoked_sids(api), "a normal rotation revokes nothing"
    # A replay once the owner refreshed again (sooner, it would be a retry: tests/issuer/test_refresh_retry.py).
    replay = api.post("/api/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert replay.status_code == 401
    assert first["sid"] in revoked_sids(api)
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REUSED, sid=first["sid"]).count() == 1
    # The rotated-to token dies with the session, and a second replay records no second event.
    assert api.post("/api/token/refresh/", {"refresh": second["refresh"]}, format="json").status_code == 401
    assert api.post("/api/token/refresh/", {"refresh": first["refresh"]}, format="json").status_code == 401
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REUSED, sid=first["sid"]).count() == 1


def test_each_refresh_rotates_and_only_the_latest_token_works(api, users):
    pair = sign_in(api, "bob")
    seen = {pair["refresh"]}
    for _ in range(3):
        pair = api.post("/api/token/refresh/", {"refresh": pair["refresh"]}, format="json").json()
        assert pair["refresh"] not in seen
        seen.add(pair["refresh"])
    session = SSOSession.objects.get(sid=pair["sid"])
    assert session.last_refreshed_at is not None and session.revoked_at is None


def test_sessions_record_who_and_where(api, users):
    response = api.post(
        "/api/token/",
        {"username": "bob", "password": PASSWORD},
        format="json",
        HTTP_USER_AGENT="pytest-browser/1.0",
        REMOTE_ADDR="10.1.2.3",
    )
    session = SSOSession.objects.get(sid=response.json()["sid"])
    assert (session.ip_address, session.user_agent) == ("10.1.2.3", "pytest-browser/1.0")
    assert session.expires_at > session.created_at


def test_the_list_is_pruned_once_every_token_of_the_session_has_expired(api, users, monkeypatch):
    pair = sign_in(api, "bob")
    api.post("/api/logout/", {"refresh": pair["refresh"]}, format="json")
    revoked_at = SSOSession.objects.get(sid=pair["sid"]).revoked_at
    still_live = revoked_at + settings.ACCESS_TOKEN_LIFETIME + timedelta(seconds=60)
    monkeypatch.setattr(clock, "now", lambda: still_live)
    assert pair["sid"] in revoked_session_ids(), "a token of it may still be live (leeway, skew)"
    long_after = revoked_at + settings.ACCESS_TOKEN_LIFETIME + REVOCATION_LIST_MARGIN + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: long_after)
    assert pair["sid"] not in revoked_session_ids()


def test_the_list_outlasts_relying_apps_leeway(settings):
    from sso_client.conf import DEFAULTS

    assert REVOCATION_LIST_MARGIN.total_seconds() > DEFAULTS["LEEWAY_SECONDS"]


def test_the_list_also_names_the_published_keys(api, users):
    sign_in(api, "bob")
    body = api.get("/api/revocations/").json()
    jwks = api.get("/.well-known/jwks.json").json()
    assert body["kids"] == [key["kid"] for key in jwks["keys"]]
    assert body["count"] == len(body["revoked_sids"])


def test_the_list_takes_two_queries(api, users, django_assert_max_num_queries):
    for _ in range(3):
        pair = sign_in(api, "bob")
        api.post("/api/logout/", {"refresh": pair["refresh"]}, format="json")
    with django_assert_max_num_queries(2):
        assert len(revoked_session_ids()) == 3


def test_user_sessions_revoke_counts_only_live_sessions(users):
    User = get_user_model()
    bob = User.objects.get(username="bob")
    for _ in range(2):
        session_start(user=bob)
    assert user_sessions_revoke(user=bob, reason=SSOSession.RevokedReason.ADMIN) == 2
    assert user_sessions_revoke(user=bob, reason=SSOSession.RevokedReason.ADMIN) == 0
