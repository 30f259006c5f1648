"""The account page /account/: only for a signed-in person; profile and password changes (Django's
validators, the other sessions ended, audited, confirmed by email); the person's sessions with app names and
their revocation; passkeys renamed and removed, removal only after a recent re-authentication."""

from datetime import timedelta
from unittest import mock

import pyotp
import pytest
from django.test import Client

from issuer import clock
from issuer.models import AuditEvent, RecoveryCode, SSOSession, TOTPDevice, WebAuthnCredential
from issuer.services import passkeys, totp
from issuer.services.sessions import session_start
from issuer.signing.tokens import SSOAccessToken

from ..conftest import PASSWORD
from .authenticator import SoftAuthenticator
from .flows import csrf_token, post_json, register_passkey

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 42"


@pytest.fixture
def bob_browser(users) -> Client:
    browser = Client(enforce_csrf_checks=True)
    token = csrf_token(browser, "/login/")
    browser.post("/login/", {"username": "bob", "password": PASSWORD, "csrfmiddlewaretoken": token})
    return browser


def act(browser: Client, action: str, **fields):
    token = csrf_token(browser, "/account/")
    return browser.post("/account/", {"action": action, "csrfmiddlewaretoken": token, **fields})


def current_sid(browser: Client) -> str:
    return SSOAccessToken(browser.cookies["sso_access"].value, verify=False)["sid"]


def later(minutes: int):
    return mock.patch.object(clock, "now", return_value=clock.now() + timedelta(minutes=minutes))


def test_only_for_a_signed_in_person(client, users):
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"] == "/session/renew/?next=/account/"


def test_the_page_shows_apps_sessions_and_is_linked_from_home(bob_browser, users, apps):
    session_start(user=users["bob"], audience="orders", ip="192.0.2.9")
    page = bob_browser.get("/account/").content.decode()
    assert 'id="account-username">bob<' in page
    assert "Orders" in page and "Products" in page
    assert page.count('name="action" value="session_revoke"') == 2
    assert "this browser" in page
    assert 'href="/account/"' in bob_browser.get("/").content.decode()


def test_the_page_lists_the_newest_sessions_and_counts_the_rest(bob_browser, users, monkeypatch):
    monkeypatch.setattr("issuer.views.account.SESSIONS_SHOWN", 3)
    for _ in range(4):
        session_start(user=users["bob"], audience="orders", ip="192.0.2.9")
    page = bob_browser.get("/account/").content.decode()
    assert page.count('name="action" value="session_revoke"') == 3
    assert "And 2 older sessions, not listed here." in page
    assert "this browser" not in page, "this browser's session is the oldest"


def test_profile_change_is_audited_and_mailed_to_both_addresses(bob_browser, users, mailoutbox):
    response = act(bob_browser, "profile", first_name="Bob", last_name="Builder", email="bob@new.example")
    assert response.status_code == 302
    users["bob"].refresh_from_db()
    assert (users["bob"].get_full_name(), users["bob"].email) == ("Bob Builder", "bob@new.example")
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.PROFILE_CHANGED, user=users["bob"]).exists()
    assert sorted(message.to[0] for message in mailoutbox) == ["bob@example.com", "bob@new.example"]


def test_a_bad_email_is_refused(bob_browser, users):
    assert act(bob_browser, "profile", email="not an address").status_code == 400


# A transactional test: sessions end when the password change commits (issuer.signals), before this browser
# signs in again, as in production; inside a test's transaction the commit would come after it.
@pytest.mark.django_db(transaction=True)
def test_password_change_ends_the_other_sessions_and_keeps_this_browser(bob_browser, users, mailoutbox):
    other = session_start(user=users["bob"], ip="192.0.2.9").session
    before = current_sid(bob_browser)
    response = act(
        bob_browser, "password", old_password=PASSWORD, new_password1=NEW_PASSWORD, new_password2=NEW_PASSWORD
    )
    assert response.status_code == 302 and response["Location"] == "/account/"
    users["bob"].refresh_from_db()
    assert users["bob"].check_password(NEW_PASSWORD)
    other.refresh_from_db()
    assert other.revoked_reason == SSOSession.RevokedReason.PASSWORD_CHANGED
    assert SSOSession.objects.get(sid=before).revoked_at is not None
    assert SSOSession.objects.get(sid=current_sid(bob_browser)).revoked_at is None, "this browser signed in anew"
    assert bob_browser.get("/account/").status_code == 200
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_CHANGED, user=users["bob"]).exists()
    assert "Your account: password changed" in [message.subject for message in mailoutbox]


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, 401, "not your"),
        ({"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}, 400, "too common"),
        ({"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": "other"}, 400, "didn’t match"),
    ],
)
def test_a_refused_password_change_changes_nothing(bob_browser, users, fields, status, error):
    response = act(bob_browser, "password", **fields)
    assert response.status_code == status
    assert error in response.content.decode()
    users["bob"].refresh_from_db()
    assert users["bob"].check_password(PASSWORD)
    assert not SSOSession.objects.filter(revoked_at__isnull=False).exists()


def test_revoke_another_session_but_not_someone_elses(bob_browser, users):
    mine = session_start(user=users["bob"]).session
    carols = session_start(user=users["carol"]).session
    assert act(bob_browser, "session_revoke", sid=mine.sid).status_code == 302
    mine.refresh_from_db()
    assert mine.revoked_reason == SSOSession.RevokedReason.SELF
    assert act(bob_browser, "session_revoke", sid=carols.sid).status_code == 404
    carols.refresh_from_db()
    assert carols.revoked_at is None


@pytest.fixture
def bobs_passkey(bob_browser) -> WebAuthnCredential:
    return register_passkey(bob_browser, SoftAuthenticator(rp_id=passkeys.rp_id(), origin=passkeys.expected_origin()))


def test_rename_a_passkey(bob_browser, bobs_passkey, users):
    assert act(bob_browser, "factor_rename", kind="passkey", id=bobs_passkey.pk, name="Work laptop").status_code == 302
    bobs_passkey.refresh_from_db()
    assert bobs_passkey.name == "Work laptop"
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.MFA_RENAMED, user=users["bob"]).exists()


def test_removing_a_passkey_needs_a_recent_re_authentication(bob_browser, bobs_passkey, users, mailoutbox):
    with later(6):
        assert act(bob_browser, "factor_remove", kind="passkey", id=bobs_passkey.pk).status_code == 403
        assert WebAuthnCredential.objects.filter(pk=bobs_passkey.pk).exists()
        assert act(bob_browser, "reauth", password="wrong").status_code == 401
        assert act(bob_browser, "reauth", password=PASSWORD).status_code == 302
        assert act(bob_browser, "factor_remove", kind="passkey", id=bobs_passkey.pk).status_code == 302
    assert not WebAuthnCredential.objects.filter(pk=bobs_passkey.pk).exists()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.MFA_REMOVED, user=users["bob"]).exists()
    assert "Your account: passkey removed" in [message.subject for message in mailoutbox]
    with later(12):
        page = bob_browser.get("/account/").content.decode()
    assert 'value="reauth"' in page, "the confirmation lapsed"


def test_someone_elses_passkey_cannot_be_renamed_or_removed(bob_browser, users):
    carols = WebAuthnCredential.objects.create(user=users["carol"], name="Carol's", credential_id="c", public_key="k")
    assert act(bob_browser, "factor_rename", kind="passkey", id=carols.pk, name="Mine").status_code == 400
    assert act(bob_browser, "factor_remove", kind="passkey", id=carols.pk).status_code == 404
    carols.refresh_from_db()
    assert carols.name == "Carol's"


def test_an_unknown_action_is_a_400(bob_browser):
    assert act(bob_browser, "delete_everything").status_code == 400


def test_a_passkey_confirms_it_is_you(bob_browser, users):
    key = SoftAuthenticator(rp_id=passkeys.rp_id(), origin=passkeys.expected_origin())
    passkey = register_passkey(bob_browser, key)
    with later(6):
        token = csrf_token(bob_browser, "/account/")
        assert "Confirm with a passkey" in bob_browser.get("/account/").content.decode()
        options = post_json(bob_browser, "/passkeys/authenticate/options/", {"mode": "reauth"}, token=token).json()
        assert [item["id"] for item in options["allowCredentials"]] == [key.id]
        body = {"mode": "reauth", "credential": key.get(options)}
        assert post_json(bob_browser, "/passkeys/authenticate/verify/", body, token=token).json() == {
            "redirect": "/account/"
        }
        assert act(bob_browser, "factor_remove", kind="passkey", id=passkey.pk).status_code == 302


def test_a_passkey_confirmation_needs_a_signed_in_person(client, users):
    token = csrf_token(client, "/login/")
    response = post_json(client, "/passkeys/authenticate/options/", {"mode": "reauth"}, token=token)
    assert response.status_code == 401


# ---- authenticator apps and recovery codes ----------------------------------------------------------


def totp_now(device_id: int) -> str:
    device = TOTPDevice.objects.get(pk=device_id)
    return pyotp.TOTP(totp.secret_decrypt(device.secret_encrypted)).at(clock.now())


def test_add_an_authenticator_app_with_its_qr_code(bob_browser, users, mailoutbox):
    assert act(bob_browser, "totp_add", name="Phone app").status_code == 302
    page = bob_browser.get("/account/").content.decode()
    assert "<svg" in page and 'id="totp-secret"' in page
    device = TOTPDevice.objects.get(user=users["bob"])
    assert device.confirmed_at is None and device.name == "Phone app"
    assert act(bob_browser, "totp_confirm", code="000000").status_code == 400
    assert act(bob_browser, "totp_confirm", code=totp_now(device.pk)).status_code == 302
    device.refresh_from_db()
    assert device.confirmed_at is not None
    assert "Your account: authenticator app added" in [message.subject for message in mailoutbox]
    page = bob_browser.get("/account/").content.decode()
    assert 'id="totp-secret"' not in page, "the secret is shown only while enrolling"


def test_an_authenticator_code_confirms_it_is_you_and_removing_the_app_needs_it(bob_browser, users, mailoutbox):
    act(bob_browser, "totp_add")
    device = TOTPDevice.objects.get(user=users["bob"])
    act(bob_browser, "totp_confirm", code=totp_now(device.pk))
    with later(6):
        assert act(bob_browser, "factor_remove", kind="totp", id=device.pk).status_code == 403
        assert act(bob_browser, "reauth", code="123456").status_code == 400
    with later(7):
        assert act(bob_browser, "reauth", code=totp_now(device.pk)).status_code == 302
        assert act(bob_browser, "factor_rename", kind="totp", id=device.pk, name="Old phone").status_code == 302
        assert act(bob_browser, "factor_remove", kind="totp", id=device.pk).status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    kinds = set(AuditEvent.objects.filter(user=users["bob"]).values_list("kind", flat=True))
    assert {AuditEvent.Kind.MFA_ENROLLED, AuditEvent.Kind.MFA_RENAMED, AuditEvent.Kind.MFA_REMOVED} <= kinds
    assert "Your account: authenticator app removed" in [message.subject for message in mailoutbox]


def test_recovery_codes_are_shown_once_and_regenerating_voids_the_old(bob_browser, users, mailoutbox):
    first = act(bob_browser, "recovery_generate")
    assert first.status_code == 200
    codes = first.content.decode().split('id="recovery-codes">')[1].split("</ul>")[0]
    assert codes.count("<li>") == 10
    assert RecoveryCode.objects.filter(user=users["bob"]).count() == 10
    page = bob_browser.get("/account/").content.decode()
    assert "10 of your recovery codes are unused." in page and 'id="recovery-codes"' not in page
    old_digests = set(RecoveryCode.objects.values_list("code_digest", flat=True))
    act(bob_browser, "recovery_generate")
    assert not old_digests & set(RecoveryCode.objects.values_list("code_digest", flat=True))
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.RECOVERY_CODES_GENERATED, user=users["bob"]).count() == 2
    with later(6):
        assert act(bob_browser, "recovery_generate").status_code == 403


def test_ending_this_browsers_session_signs_it_out(bob_browser, users):
    response = act(bob_browser, "session_revoke", sid=current_sid(bob_browser))
    assert response.status_code == 302 and response["Location"] == "/logout/done/"
    assert bob_browser.cookies["sso_access"].value == ""
    assert bob_browser.get("/account/").status_code == 302


def test_moving_the_email_address_needs_a_recent_re_authentication(bob_browser, users):
    with later(6):
        assert act(bob_browser, "profile", first_name="Bob", email="thief@evil.example").status_code == 403
        assert act(bob_browser, "profile", first_name="Bob", email="bob@example.com").status_code == 302
    users["bob"].refresh_from_db()
    assert (users["bob"].first_name, users["bob"].email) == ("Bob", "bob@example.com")
