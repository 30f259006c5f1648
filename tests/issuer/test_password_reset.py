"""Password reset by email: the same answer for every address, a 15-minute JWT that works once, Django's
password validators, every session revoked, and no confusing a reset token with any other token."""

import re
import smtplib
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from issuer import clock
from issuer.models import AuditEvent, SSOSession
from issuer.services import password_reset

from .conftest import PASSWORD, obtain

pytestmark = pytest.mark.django_db
User = get_user_model()
NEW_PASSWORD = "a brand new passphrase 42"


def request_reset(client, email: str = "bob@example.com", **extra):
    return client.post("/password-reset/", {"email": email}, **extra)


def link_in(message) -> str:
    return re.search(r"(http\S+/password-reset/\S+/)", message.body).group(1)


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def path_of(link: str) -> str:
    return link.removeprefix(settings.SSO_ISSUER_URL)


def set_password(client, link: str, password: str = NEW_PASSWORD):
    opened = client.get(path_of(link))
    if opened.status_code != 302:
        return opened
    return client.post(opened["Location"], {"new_password1": password, "new_password2": password})


@pytest.fixture
def bob_link(client, users, mailoutbox) -> str:
    request_reset(client)
    return link_in(mailoutbox[-1])


def test_the_answer_is_the_same_whether_or_not_the_address_exists(client, users, mailoutbox):
    known = request_reset(client, "bob@example.com")
    unknown = request_reset(client, "nobody@example.com")
    assert (
        (known.status_code, known["Location"])
        == (unknown.status_code, unknown["Location"])
        == (302, "/password-reset/sent/")
    )
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["bob@example.com"]
    sent = client.get("/password-reset/sent/")
    assert b"If an account uses that address" in sent.content


def test_the_mail_is_sent_after_the_answer(client, users, mailoutbox, settings, monkeypatch):
    """With a slow mail server, a known address must answer as fast as an unknown one: the mail goes out
    from a background thread once the answer is given."""
    import threading

    from issuer.services import password_reset

    settings.SSO_PASSWORD_RESET_MAIL_IN_BACKGROUND = True
    release = threading.Event()
    real_send_mail = password_reset.send_mail

    def slow_send_mail(*args, **kwargs):
        release.wait(timeout=10)  # the SMTP conversation, held until the answer has been given
        return real_send_mail(*args, **kwargs)

    monkeypatch.setattr(password_reset, "send_mail", slow_send_mail)
    response = request_reset(client, "bob@example.com")
    assert response.status_code == 302 and mailoutbox == []
    release.set()
    for thread in threading.enumerate():
        if thread.name == "password-reset-mail":
            thread.join(timeout=10)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["bob@example.com"]


def test_the_api_answers_the_same_whether_or_not_the_address_exists(api, users, mailoutbox):
    known = api.post("/api/password-reset/", {"email": "BOB@example.com"}, format="json")
    unknown = api.post("/api/password-reset/", {"email": "nobody@example.com"}, format="json")
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert len(mailoutbox) == 1
    assert api.post("/api/password-reset/", {"email": "not an address"}, format="json").status_code == 400


def test_a_failing_mail_server_changes_nothing_the_requester_sees(client, users, monkeypatch):
    def broken(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("down")

    monkeypatch.setattr(password_reset, "send_mail", broken)
    assert request_reset(client)["Location"] == "/password-reset/sent/"


def test_the_link_carries_a_15_minute_purpose_bound_jwt_signed_by_the_issuer(bob_link, users):
    assert bob_link.startswith(f"{settings.SSO_ISSUER_URL}/password-reset/")
    token = token_of(bob_link)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert claims["token_type"] == "password_reset"
    assert claims["aud"] == "sso:password-reset" and claims["iss"] == settings.SSO_ISSUER_URL
    assert claims["sub"] == str(users["bob"].pk)
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert "sid" not in claims and len(claims["fp"]) == 32
    assert len(token) < 1024


def test_the_link_is_built_from_the_issuer_url_never_the_host_header(client, users, mailoutbox):
    request_reset(client, HTTP_HOST="127.0.0.1:9999")
    assert link_in(mailoutbox[-1]).startswith(settings.SSO_ISSUER_URL + "/")


def test_reset_from_the_link_once(client, api, users, mailoutbox, django_capture_on_commit_callbacks):
    session = obtain(api, "bob").json()["sid"]
    # Asked for after signing in: a sign-in spends the links asked for before it (the next test).
    request_reset(client)
    bob_link = link_in(mailoutbox[-1])
    opened = client.get(path_of(bob_link))
    assert opened.status_code == 302 and opened["Location"] == "/password-reset/set/"
    form = client.get("/password-reset/set/")
    assert form.status_code == 200 and b"bob" in form.content
    assert form["Cache-Control"].startswith("max-age=0")
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/password-reset/set/", {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/password-reset/done/"
    assert obtain(api, "bob", NEW_PASSWORD).status_code == 200
    assert obtain(api, "bob", PASSWORD).status_code == 401
    assert SSOSession.objects.get(sid=session).revoked_reason == SSOSession.RevokedReason.PASSWORD_CHANGED
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_RESET, user=users["bob"]).count() == 1
    # The second time, the link fails; so does replaying the form.
    again = client.get(path_of(bob_link))
    assert again.status_code == 400 and b"cannot be used" in again.content
    assert set_password(client, bob_link, "yet another passphrase 7").status_code == 400
    assert obtain(api, "bob", NEW_PASSWORD).status_code == 200


def test_only_the_answers_at_the_tokens_url_withhold_the_referer(client, users, bob_link):
    # With `no-referrer` on the form pages Chromium posts `Origin: null`, which Django's CSRF check refuses.
    opened = client.get(path_of(bob_link))
    assert opened["Referrer-Policy"] == "no-referrer"
    assert client.get("/password-reset/bogus/")["Referrer-Policy"] == "no-referrer"
    form = client.get(opened["Location"])
    assert form["Referrer-Policy"] == "same-origin"
    assert b'name="referrer"' not in form.content
    assert client.get("/password-reset/")["Referrer-Policy"] == "same-origin"


def test_signing_in_after_asking_spends_the_link(client, api, users, bob_link):
    # Every sign-in sets last_login, which the link's fingerprint covers (as Django's reset tokens do): a
    # person who remembered their password, or an old link found in a mailbox later, changes nothing.
    assert obtain(api, "bob").status_code == 200
    assert client.get(path_of(bob_link)).status_code == 400
    assert User.objects.get(username="bob").check_password(PASSWORD)


@pytest.mark.parametrize(
    ("password", "complaint"),
    [
        ("short", b"too short"),
        ("password123", b"too common"),
        ("83746591028374", b"entirely numeric"),
        ("bobbob1", b"too short"),
    ],
)
def test_djangos_validators_judge_the_new_password(client, users, bob_link, password, complaint):
    response = set_password(client, bob_link, password)
    assert response.status_code == 200 and complaint in response.content
    assert User.objects.get(username="bob").check_password(PASSWORD)
    # The link still works after a refused password.
    assert set_password(client, bob_link).status_code == 302


def test_the_two_passwords_must_match(client, users, bob_link):
    opened = client.get(path_of(bob_link))
    response = client.post(opened["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"})
    assert response.status_code == 200 and User.objects.get(username="bob").check_password(PASSWORD)


def test_the_link_expires_after_15_minutes(client, users, mailoutbox, monkeypatch):
    real_now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: real_now - timedelta(minutes=15, seconds=1))
    request_reset(client)
    stale = link_in(mailoutbox[-1])
    monkeypatch.setattr(clock, "now", lambda: real_now - timedelta(minutes=14))
    request_reset(client)
    fresh = link_in(mailoutbox[-1])
    monkeypatch.setattr(clock, "now", lambda: real_now)
    with pytest.raises(password_reset.ResetLinkInvalid, match="expired"):
        password_reset.password_reset_token_check(raw_token=token_of(stale))
    assert client.get(path_of(stale)).status_code == 400
    assert set_password(client, fresh).status_code == 302


def test_a_newer_reset_retires_the_older_link(client, users, mailoutbox):
    request_reset(client)
    first = link_in(mailoutbox[-1])
    request_reset(client)
    second = link_in(mailoutbox[-1])
    with pytest.raises(password_reset.ResetLinkInvalid, match="superseded"):
        password_reset.password_reset_token_check(raw_token=token_of(first))
    assert set_password(client, first).status_code == 400
    assert set_password(client, second).status_code == 302


def test_a_password_change_made_another_way_retires_the_link(client, users, bob_link):
    bob = User.objects.get(username="bob")
    bob.set_password("changed by the admin 99")
    bob.save()
    with pytest.raises(password_reset.ResetLinkInvalid, match="password changed"):
        password_reset.password_reset_token_check(raw_token=token_of(bob_link))
    assert set_password(client, bob_link).status_code == 400


def test_the_link_opened_then_used_elsewhere_fails_at_the_form(client, api, users, bob_link):
    opened = client.get(path_of(bob_link))
    confirmed = api.post(
        "/api/password-reset/confirm/", {"token": token_of(bob_link), "new_password": NEW_PASSWORD}, format="json"
    )
    assert confirmed.status_code == 200
    late = client.post(
        opened["Location"], {"new_password1": "another passphrase 8", "new_password2": "another passphrase 8"}
    )
    assert late.status_code == 400
    assert User.objects.get(username="bob").check_password(NEW_PASSWORD)


def test_the_api_confirms_once(api, users, bob_link):
    body = {"token": token_of(bob_link), "new_password": NEW_PASSWORD}
    assert api.post("/api/password-reset/confirm/", body, format="json").status_code == 200
    second = api.post("/api/password-reset/confirm/", body, format="json")
    assert second.status_code == 400
    assert second.json() == {
        "detail": "This password-reset link is invalid, expired or already used.",
        "code": "reset_link_invalid",
    }
    weak = api.post("/api/password-reset/confirm/", {"token": token_of(bob_link), "new_password": "x"}, format="json")
    assert weak.status_code == 400


def test_the_api_applies_the_validators(api, users, bob_link):
    weak = api.post(
        "/api/password-reset/confirm/", {"token": token_of(bob_link), "new_password": "12345678"}, format="json"
    )
    assert weak.status_code == 400 and "new_password" in weak.json()
    assert User.objects.get(username="bob").check_password(PASSWORD)


def test_an_inactive_user_cannot_use_a_link(client, users, bob_link):
    User.objects.filter(username="bob").update(is_active=False)
    assert set_password(client, bob_link).status_code == 400


def test_no_mail_for_inactive_users_or_unusable_passwords(client, users, mailoutbox):
    User.objects.filter(username="bob").update(is_active=False)
    carol = User.objects.get(username="carol")
    carol.set_unusable_password()
    carol.save()
    request_reset(client, "bob@example.com")
    request_reset(client, "carol@example.com")
    assert mailoutbox == []


def test_mails_to_one_address_are_limited(client, users, mailoutbox):
    for _ in range(password_reset.MAILS_PER_ADDRESS + 2):
        assert request_reset(client)["Location"] == "/password-reset/sent/"
    assert len(mailoutbox) == password_reset.MAILS_PER_ADDRESS


def test_a_tampered_link_is_refused(client, users, bob_link):
    token = token_of(bob_link)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert client.get(f"/password-reset/{forged}/").status_code == 400
    assert client.get("/password-reset/not-a-token/").status_code == 400
    assert client.get("/password-reset/set/").status_code == 400


def test_an_access_or_refresh_token_is_never_a_reset_token(client, api, users):
    pair = obtain(api, "bob").json()
    for token in (pair["access"], pair["refresh"]):
        assert client.get(f"/password-reset/{token}/").status_code == 400
        body = {"token": token, "new_password": NEW_PASSWORD}
        assert api.post("/api/password-reset/confirm/", body, format="json").status_code == 400
    assert User.objects.get(username="bob").check_password(PASSWORD)


def test_a_reset_token_is_never_an_access_or_refresh_token(api, users, bob_link):
    token = token_of(bob_link)
    assert api.post("/api/token/refresh/", {"refresh": token}, format="json").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/sessions/").status_code == 401
    assert api.post("/api/logout/everywhere/").status_code == 401


# ---- the token stays out of the app's own logs ---------------------------------------------------------


def test_a_failing_reset_link_is_not_logged_with_its_token(client, users, caplog):
    """Django's request logger names a refused request's path (a 400 here), and runserver's request log
    every request line: both mask the token, as gunicorn's access log does."""
    import logging

    from issuer.signing.tokens import PasswordResetToken

    token = PasswordResetToken()
    token["sub"], token["fp"] = str(users["bob"].pk), "stale"  # well-formed and signed, refused on its fingerprint
    raw = str(token)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.WARNING, logger="django.request")  # what a deployment may log at
    assert client.get(f"/password-reset/{raw}/").status_code == 400
    # What runserver's handler (django.core.servers.basehttp) logs for that request.
    logging.getLogger("django.server").warning('"%s" %s %s', f"GET /password-reset/{raw}/ HTTP/1.1", "400", "512")
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("Bad Request: /password-reset/[token]/") for message in messages), messages
    assert any("GET /password-reset/[token]/ HTTP/1.1" in message for message in messages), messages
    assert all(raw not in message and raw.split(".")[2] not in message for message in messages)
