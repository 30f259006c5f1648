"""Signing-key lifecycle at the issuer: rotation makes a new key active at once, the JWKS keeps the retiring
key until its tokens have expired, a due key leaves the JWKS by itself (the read writes nothing) and is
marked retired by command and on rotation; the admin actions do the same; file keys follow a rolling deploy.
(Relying apps picking up a new key, and rotation under traffic with zero failed requests:
test_fetch_hygiene.py and test_over_http.py.)"""

import io
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from issuer import clock
from issuer.models import AuditEvent, SigningKey, SSOSession
from issuer.signing import keys

from .conftest import sign_in

pytestmark = pytest.mark.django_db


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def published(api) -> list[str]:
    return [key["kid"] for key in api.get("/.well-known/jwks.json").json()["keys"]]


def rotate(django_capture_on_commit_callbacks) -> SigningKey:
    with django_capture_on_commit_callbacks(execute=True):
        call_command("rotate_signing_key", stdout=io.StringIO())
    return SigningKey.objects.get(state=SigningKey.State.ACTIVE)


def move_clock(monkeypatch, by: timedelta) -> None:
    moved = clock.now() + by
    monkeypatch.setattr(clock, "now", lambda: moved)


def test_rotation_makes_the_new_key_active_at_once_and_keeps_the_old_one_published(
    api, users, django_capture_on_commit_callbacks
):
    before = sign_in(api, "bob", audience="sso")
    old_kid = kid_of(before["access"])
    new = rotate(django_capture_on_commit_callbacks)
    assert new.kid != old_kid
    assert SigningKey.objects.get(kid=old_kid).state == SigningKey.State.RETIRING
    after = sign_in(api, "bob", audience="sso")
    assert kid_of(after["access"]) == new.kid, "the very next token is signed with the new key"
    assert published(api) == [new.kid, old_kid], "active first, the retiring key still published"
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.KEY_ROTATED, detail=f"kid={new.kid}").exists()
    # Tokens of both keys still work at the issuer's own API.
    for pair in (before, after):
        response = api.get("/api/sessions/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
        assert response.status_code == 200


def test_the_jwks_has_public_members_only(api, users, django_capture_on_commit_callbacks):
    sign_in(api, "bob")
    rotate(django_capture_on_commit_callbacks)
    for key in api.get("/.well-known/jwks.json").json()["keys"]:
        assert set(key) == {"kty", "n", "e", "kid", "use", "alg"}


def test_a_rotation_by_another_process_is_in_this_process_jwks_at_once(api, users):
    """Another process rotating cannot clear this process's caches (no shared cache in dev). This process may
    go on signing with the old key for a few seconds, which is fine, but its JWKS must show the new key at
    once: other processes already sign with it, and a relying app may fetch the JWKS from this one."""
    old_kid = kid_of(sign_in(api, "bob")["access"])
    assert published(api) == [old_kid]
    new = keys.signing_key_generate()  # as the other process would; its on-commit cache clearing never runs here
    assert published(api) == [new.kid, old_kid]
    response = api.get("/api/sessions/", HTTP_AUTHORIZATION=f"Bearer {sign_in(api, 'bob', audience='sso')['access']}")
    assert response.status_code == 200, "whichever key this process signs with, it verifies here"


def test_a_retiring_key_is_not_retired_while_its_tokens_may_be_live(api, users, django_capture_on_commit_callbacks):
    old_kid = kid_of(sign_in(api, "bob")["access"])
    rotate(django_capture_on_commit_callbacks)
    call_command("retire_signing_keys", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("retire_signing_keys", kid=old_kid)
    assert SigningKey.objects.get(kid=old_kid).state == SigningKey.State.RETIRING
    assert old_kid in published(api)


def test_retire_command_retires_keys_whose_tokens_have_expired(
    api, users, monkeypatch, capsys, django_capture_on_commit_callbacks
):
    old_kid = kid_of(sign_in(api, "bob")["access"])
    new = rotate(django_capture_on_commit_callbacks)
    move_clock(monkeypatch, keys.retire_after() + timedelta(seconds=1))
    call_command("retire_signing_keys")
    assert f"Retired: {old_kid}" in capsys.readouterr().out
    assert SigningKey.objects.get(kid=old_kid).state == SigningKey.State.RETIRED
    assert published(api) == [new.kid]
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.KEY_RETIRED, detail=f"kid={old_kid}").count() == 1


def test_retirement_waits_for_the_access_token_lifetime_plus_a_margin():
    assert keys.retire_after() == settings.ACCESS_TOKEN_LIFETIME + keys.RETIRE_MARGIN
    # Beyond relying apps' default leeway and the seconds other processes may still sign with the old key.
    assert keys.RETIRE_MARGIN.total_seconds() > 30 + keys.ACTIVE_KEY_RECHECK_SECONDS


def test_a_due_key_leaves_the_jwks_by_itself_and_the_read_writes_nothing(
    api, users, monkeypatch, django_capture_on_commit_callbacks
):
    old_kid = kid_of(sign_in(api, "bob")["access"])
    new = rotate(django_capture_on_commit_callbacks)
    move_clock(monkeypatch, keys.retire_after() - timedelta(seconds=1))
    assert published(api) == [new.kid, old_kid]
    move_clock(monkeypatch, timedelta(seconds=2))
    assert published(api) == [new.kid]
    assert api.get("/api/revocations/").json()["kids"] == [new.kid]
    assert SigningKey.objects.get(kid=old_kid).state == SigningKey.State.RETIRING, "a GET retires nothing"
    call_command("retire_signing_keys", stdout=io.StringIO())
    assert SigningKey.objects.get(kid=old_kid).state == SigningKey.State.RETIRED


def test_rotation_retires_keys_that_are_due(api, users, monkeypatch, django_capture_on_commit_callbacks):
    first = kid_of(sign_in(api, "bob")["access"])
    second = rotate(django_capture_on_commit_callbacks)
    move_clock(monkeypatch, keys.retire_after() + timedelta(seconds=1))
    third = rotate(django_capture_on_commit_callbacks)
    states = dict(SigningKey.objects.values_list("kid", "state"))
    assert states == {first: "retired", second.kid: "retiring", third.kid: "active"}


def test_force_retires_a_compromised_key_now_and_needs_a_kid(api, users, django_capture_on_commit_callbacks):
    old_kid = kid_of(sign_in(api, "bob")["access"])
    new = rotate(django_capture_on_commit_callbacks)
    with pytest.raises(CommandError):
        call_command("retire_signing_keys", force=True)
    call_command("retire_signing_keys", kid=old_kid, force=True, stdout=io.StringIO())
    assert published(api) == [new.kid]
    with pytest.raises(CommandError):
        call_command("retire_signing_keys", kid=new.kid, force=True)  # the active key is never retired


def test_retiring_twice_records_one_event(users):
    keys.signing_key_ensure()
    old = SigningKey.objects.get(state=SigningKey.State.ACTIVE)
    keys.signing_key_rotate()
    old.refresh_from_db()
    assert keys.signing_key_retire(key=old, force=True) is True
    assert keys.signing_key_retire(key=old, force=True) is False
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.KEY_RETIRED).count() == 1


# ---- the admin actions ------------------------------------------------------------------------------


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admin_rotate_action_makes_a_new_key_active_at_once(api, users, django_capture_on_commit_callbacks):
    old_kid = kid_of(sign_in(api, "bob")["access"])
    client = admin_client(users["alice"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/issuer/signingkey/",
            {"action": "rotate", "_selected_action": [SigningKey.objects.get(kid=old_kid).pk]},
            follow=True,
        )
    assert response.status_code == 200
    new = SigningKey.objects.get(state=SigningKey.State.ACTIVE)
    assert new.kid != old_kid
    assert new.kid in response.content.decode()
    assert kid_of(sign_in(api, "bob")["access"]) == new.kid
    assert published(api) == [new.kid, old_kid]


def test_admin_retire_action_retires_only_keys_whose_tokens_expired(
    api, users, monkeypatch, django_capture_on_commit_callbacks
):
    old_kid = kid_of(sign_in(api, "bob")["access"])
    rotate(django_capture_on_commit_callbacks)
    old_pk = SigningKey.objects.get(kid=old_kid).pk
    client = admin_client(users["alice"])
    client.post("/admin/issuer/signingkey/", {"action": "retire", "_selected_action": [old_pk]})
    assert SigningKey.objects.get(pk=old_pk).state == SigningKey.State.RETIRING
    move_clock(monkeypatch, keys.retire_after() + timedelta(seconds=1))
    client.post("/admin/issuer/signingkey/", {"action": "retire", "_selected_action": [old_pk]})
    assert SigningKey.objects.get(pk=old_pk).state == SigningKey.State.RETIRED


def test_signing_keys_are_for_superusers_only(users):
    keys.signing_key_ensure()
    client = admin_client(users["stan"])
    assert client.get("/admin/issuer/signingkey/").status_code == 403
    pk = SigningKey.objects.get().pk
    response = client.post("/admin/issuer/signingkey/", {"action": "rotate", "_selected_action": [pk]})
    assert response.status_code == 403
    assert SigningKey.objects.count() == 1


def test_admin_revoke_sessions_action(api, users):
    pair = sign_in(api, "bob")
    client = admin_client(users["alice"])
    session = SSOSession.objects.get(sid=pair["sid"])
    response = client.post(
        "/admin/issuer/ssosession/", {"action": "revoke", "_selected_action": [session.pk]}, follow=True
    )
    assert "Revoked 1 session" in response.content.decode()
    session.refresh_from_db()
    assert session.revoked_reason == SSOSession.RevokedReason.ADMIN
    assert pair["sid"] in api.get("/api/revocations/").json()["revoked_sids"]


def test_admin_log_out_everywhere_action(api, users):
    pairs = [sign_in(api, "bob"), sign_in(api, "bob")]
    client = admin_client(users["alice"])
    response = client.post(
        "/admin/auth/user/", {"action": "log_out_everywhere", "_selected_action": [users["bob"].pk]}, follow=True
    )
    assert "Revoked 2 session" in response.content.decode()
    listed = api.get("/api/revocations/").json()["revoked_sids"]
    assert {pair["sid"] for pair in pairs} <= set(listed)


def test_staff_without_permission_cannot_revoke_sessions(api, users):
    pair = sign_in(api, "bob")
    client = admin_client(users["stan"])
    pk = SSOSession.objects.get(sid=pair["sid"]).pk
    response = client.post("/admin/issuer/ssosession/", {"action": "revoke", "_selected_action": [pk]})
    assert response.status_code == 403
    assert SSOSession.objects.get(pk=pk).revoked_at is None


# ---- keys supplied as files (SSO_SIGNING_KEY_FILE) ---------------------------------------------------


def pem_file(path) -> str:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(path)


def use_key_file(settings, path: str) -> None:
    settings.SSO_ISSUER = {**settings.SSO_ISSUER, "SIGNING_KEY_FILE": path}


def test_a_file_key_is_activated_and_nothing_private_is_stored(api, users, settings, tmp_path):
    use_key_file(settings, pem_file(tmp_path / "key.pem"))
    kid = kid_of(sign_in(api, "bob")["access"])
    row = SigningKey.objects.get(kid=kid)
    assert (row.state, row.source, row.private_pem_encrypted) == ("active", "file", "")
    assert published(api) == [kid]
    with pytest.raises(CommandError, match="SSO_SIGNING_KEY_FILE"):
        call_command("rotate_signing_key")


def test_a_rolling_deploy_of_a_new_key_file(api, users, settings, tmp_path, monkeypatch):
    """Old and new processes hold different files for a while; each signs with its own key, both keys stay
    published, and the old key's retirement waits until the last old process stopped signing with it."""
    old_file, new_file = pem_file(tmp_path / "old.pem"), pem_file(tmp_path / "new.pem")
    old_process, new_process = keys._FileKeyState(), keys._FileKeyState()

    use_key_file(settings, old_file)
    monkeypatch.setattr(keys, "_file_key", old_process)
    old_kid = kid_of(sign_in(api, "bob")["access"])

    use_key_file(settings, new_file)
    monkeypatch.setattr(keys, "_file_key", new_process)
    new_kid = kid_of(sign_in(api, "bob")["access"])
    assert new_kid != old_kid
    assert published(api) == [new_kid, old_kid]
    assert SigningKey.objects.get(kid=old_kid).state == SigningKey.State.RETIRING

    # An old process, a minute later, still signs with its own key and does not take the active role back...
    use_key_file(settings, old_file)
    monkeypatch.setattr(keys, "_file_key", old_process)
    move_clock(monkeypatch, timedelta(minutes=1))
    assert kid_of(sign_in(api, "bob")["access"]) == old_kid
    old_row = SigningKey.objects.get(kid=old_kid)
    assert old_row.state == SigningKey.State.RETIRING
    # ... and its tokens keep coming, so the retirement clock restarts from now.
    assert old_row.retiring_at == clock.now()
    assert SigningKey.objects.get(kid=new_kid).state == SigningKey.State.ACTIVE


def test_a_file_key_retired_while_still_in_use_is_published_again(api, users, settings, tmp_path, monkeypatch):
    use_key_file(settings, pem_file(tmp_path / "key.pem"))
    kid = kid_of(sign_in(api, "bob")["access"])
    SigningKey.objects.filter(kid=kid).update(state=SigningKey.State.RETIRED)
    move_clock(monkeypatch, timedelta(seconds=keys.ACTIVE_KEY_RECHECK_SECONDS + 1))
    assert kid_of(sign_in(api, "bob")["access"]) == kid
    assert kid in published(api)


def test_leaving_file_keys_for_database_keys(api, users, settings, tmp_path, django_capture_on_commit_callbacks):
    use_key_file(settings, pem_file(tmp_path / "key.pem"))
    file_kid = kid_of(sign_in(api, "bob")["access"])
    use_key_file(settings, "")
    keys._loaded_keys.clear()
    with django_capture_on_commit_callbacks(execute=True):
        database_kid = kid_of(sign_in(api, "bob")["access"])
    assert database_kid != file_kid
    assert SigningKey.objects.get(kid=database_kid).source == "database"
    assert published(api) == [database_kid, file_kid]
