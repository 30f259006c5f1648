"""The passkey endpoints under /passkeys/ through Django's test client: CSRF-checked JSON POSTs, the binding
cookie, registration from a signed-in and recently re-authenticated session, passwordless sign-in and the
second step ending in a browser session with the passkey's amr, and hostile bodies answered with a 4xx."""

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client

from issuer import clock
from issuer.models import SSOSession, WebAuthnChallenge, WebAuthnCredential
from issuer.services import passkeys
from issuer.signing.tokens import SSOAccessToken

from ..conftest import PASSWORD
from .authenticator import SoftAuthenticator
from .flows import csrf_token, pending_sign_in, post_json, register_passkey

pytestmark = pytest.mark.django_db


@pytest.fixture
def authenticator():
    return SoftAuthenticator(rp_id=passkeys.rp_id(), origin=passkeys.expected_origin())


@pytest.fixture
def browser():
    return Client(enforce_csrf_checks=True)


def sign_in_with_password(browser: Client, username: str) -> None:
    token = csrf_token(browser, "/login/")
    response = browser.post("/login/", {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_registration_needs_a_signed_in_person(browser, users):
    token = csrf_token(browser, "/login/")
    response = post_json(browser, "/passkeys/register/options/", {}, token=token)
    assert response.status_code == 401 and response.json()["code"] == "not_signed_in"


def test_every_ceremony_post_needs_the_csrf_token(browser, users):
    sign_in_with_password(browser, "bob")
    for path in ("/passkeys/register/options/", "/passkeys/authenticate/options/", "/passkeys/authenticate/verify/"):
        assert browser.post(path, "{}", content_type="application/json").status_code == 403, path


def test_enrol_from_a_fresh_sign_in_then_sign_in_passwordless(browser, users, authenticator, mailoutbox):
    sign_in_with_password(browser, "bob")
    passkey = register_passkey(browser, authenticator, name="Phone")
    assert passkey.user == users["bob"] and passkey.name == "Phone" and passkey.is_discoverable
    assert browser.cookies["sso_passkey"]["httponly"] and browser.cookies["sso_passkey"]["samesite"] == "Strict"
    assert [message.subject for message in mailoutbox] == ["Your account: passkey added"]

    stranger = Client(enforce_csrf_checks=True)
    token = csrf_token(stranger, "/login/")
    options = post_json(stranger, "/passkeys/authenticate/options/", {"mode": "passwordless"}, token=token).json()
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    body = {"mode": "passwordless", "next": "http://localhost:8001/", "credential": authenticator.get(options)}
    answer = post_json(stranger, "/passkeys/authenticate/verify/", body, token=token)
    assert answer.status_code == 200 and answer.json() == {"redirect": "http://localhost:8001/"}
    claims = SSOAccessToken(stranger.cookies["sso_access"].value, verify=False)
    session = SSOSession.objects.get(sid=claims["sid"])
    assert session.user == users["bob"] and session.amr == ["swk", "user", "mfa"]


def test_passwordless_next_is_held_to_the_allowlist(browser, users, authenticator):
    sign_in_with_password(browser, "bob")
    register_passkey(browser, authenticator)
    token = csrf_token(browser, "/login/")
    options = post_json(browser, "/passkeys/authenticate/options/", {"mode": "passwordless"}, token=token).json()
    body = {"mode": "passwordless", "next": "https://evil.example/", "credential": authenticator.get(options)}
    assert post_json(browser, "/passkeys/authenticate/verify/", body, token=token).json() == {"redirect": "/"}


def test_a_passkey_as_the_second_step(browser, users, authenticator):
    sign_in_with_password(browser, "bob")
    register_passkey(browser, authenticator)
    second = Client(enforce_csrf_checks=True)
    token = pending_sign_in(second, "bob", PASSWORD, next_url="/account/")
    options = post_json(second, "/passkeys/authenticate/options/", {"mode": "second_factor"}, token=token).json()
    assert [item["id"] for item in options["allowCredentials"]] == [authenticator.id]
    body = {"mode": "second_factor", "credential": authenticator.get(options)}
    answer = post_json(second, "/passkeys/authenticate/verify/", body, token=token)
    assert answer.json() == {"redirect": "/account/"}
    claims = SSOAccessToken(second.cookies["sso_access"].value, verify=False)
    assert SSOSession.objects.get(sid=claims["sid"]).amr == ["pwd", "swk", "user", "mfa"]


def test_a_second_step_needs_a_pending_sign_in(browser, users):
    token = csrf_token(browser, "/login/")
    response = post_json(browser, "/passkeys/authenticate/options/", {"mode": "second_factor"}, token=token)
    assert response.status_code == 400 and response.json()["code"] == "no_pending_sign_in"


def test_another_browsers_challenge_is_refused(browser, users, authenticator):
    sign_in_with_password(browser, "bob")
    register_passkey(browser, authenticator)
    token = csrf_token(browser, "/login/")
    options = post_json(browser, "/passkeys/authenticate/options/", {"mode": "passwordless"}, token=token).json()
    thief = Client(enforce_csrf_checks=True)
    thief_token = csrf_token(thief, "/login/")
    body = {"mode": "passwordless", "credential": authenticator.get(options)}
    response = post_json(thief, "/passkeys/authenticate/verify/", body, token=thief_token)
    assert response.status_code == 400 and response.json()["code"] == "passkey_rejected"
    assert "sso_access" not in thief.cookies


@pytest.mark.parametrize(
    "raw", [b"not json", b"[]", b'"text"', b"{" * 10, b"\xff\xfe", b'{"mode": "other"}', b"[" * 50_000]
)
@pytest.mark.parametrize("path", ["/passkeys/authenticate/options/", "/passkeys/authenticate/verify/"])
def test_hostile_bodies_get_a_4xx(browser, users, path, raw):
    token = csrf_token(browser, "/login/")
    response = browser.post(path, raw, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 400 and response.json()["code"] in ("malformed", "no_pending_sign_in")


@pytest.mark.parametrize("credential", [7, "text", [], {"id": "x"}, {"id": "x", "response": {"clientDataJSON": 5}}])
def test_hostile_credentials_get_a_400(browser, users, credential):
    token = csrf_token(browser, "/login/")
    body = {"mode": "passwordless", "credential": credential}
    response = post_json(browser, "/passkeys/authenticate/verify/", body, token=token)
    assert response.status_code == 400 and response.json()["code"] == "passkey_rejected"


def test_an_oversized_body_is_refused(browser, users):
    token = csrf_token(browser, "/login/")
    raw = json.dumps({"mode": "passwordless", "credential": {"id": "x" * 70_000}})
    response = browser.post(
        "/passkeys/authenticate/verify/", raw, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 400


def test_registration_after_five_minutes_needs_re_authentication(browser, users, authenticator, settings):
    sign_in_with_password(browser, "bob")
    later = clock.now() + timedelta(minutes=6)
    token = csrf_token(browser, "/account/")
    with mock.patch.object(clock, "now", return_value=later):
        response = post_json(browser, "/passkeys/register/options/", {}, token=token)
    assert response.status_code == 403 and response.json()["code"] == "reauth_required"
    assert not WebAuthnCredential.objects.exists()


def test_a_passkey_steps_the_same_session_up(browser, users, authenticator):
    sign_in_with_password(browser, "bob")
    register_passkey(browser, authenticator)
    sid = SSOAccessToken(browser.cookies["sso_access"].value, verify=False)["sid"]
    assert browser.get("/login/step-up/", {"next": "/account/"}).status_code == 200
    token = csrf_token(browser, "/account/")
    options = post_json(browser, "/passkeys/authenticate/options/", {"mode": "second_factor"}, token=token).json()
    assert options["userVerification"] == "preferred", "the password of this fresh sign-in still counts"
    body = {"mode": "second_factor", "credential": authenticator.get(options)}
    assert post_json(browser, "/passkeys/authenticate/verify/", body, token=token).json() == {"redirect": "/account/"}
    session = SSOSession.objects.get(sid=sid)
    assert session.revoked_at is None and session.amr == ["pwd", "swk", "user", "mfa"]
    assert SSOAccessToken(browser.cookies["sso_access"].value, verify=False)["sid"] == sid


def test_a_step_up_of_an_old_sign_in_needs_a_user_verifying_passkey(browser, users, authenticator):
    sign_in_with_password(browser, "bob")
    register_passkey(browser, authenticator)
    browser.get("/login/step-up/", {"next": "/account/", "max_age": "0"})
    token = csrf_token(browser, "/account/")
    options = post_json(browser, "/passkeys/authenticate/options/", {"mode": "second_factor"}, token=token).json()
    assert options["userVerification"] == "required"
    authenticator.user_verifying = False
    body = {"mode": "second_factor", "credential": authenticator.get(options)}
    assert post_json(browser, "/passkeys/authenticate/verify/", body, token=token).status_code == 400


def test_sign_in_challenges_are_budgeted_per_address(browser, users, monkeypatch):
    monkeypatch.setattr(passkeys, "CHALLENGES_PER_ADDRESS", 2)
    token = csrf_token(browser, "/login/")
    answers = [
        post_json(browser, "/passkeys/authenticate/options/", {"mode": "passwordless"}, token=token) for _ in range(3)
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert 1 <= int(answers[2]["Retry-After"]) <= passkeys.CHALLENGE_WINDOW_SECONDS
    assert WebAuthnChallenge.objects.count() == 2
