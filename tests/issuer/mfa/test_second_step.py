"""The second sign-in step: a correct password is not a sign-in for an account with a second factor; the
`sso_pending` cookie, /login/second-factor/ with a code or a recovery code, and what the session records."""

import time

import pytest
from django.core import signing

from issuer.models import AuditEvent, SSOSession
from issuer.services import mfa, recovery_codes

from .conftest import PASSWORD, claims, code_at, enrol

pytestmark = pytest.mark.django_db

ORDERS_PAGE = "http://localhost:8001/api/orders/"


def password_step(client, username="bob", next_url=ORDERS_PAGE):
    return client.post("/login/", {"username": username, "password": PASSWORD, "next": next_url})


def test_a_password_alone_signs_in_an_account_without_a_second_factor(client, users):
    response = password_step(client)
    assert response.status_code == 302 and response["Location"] == ORDERS_PAGE
    session = SSOSession.objects.get(user=users["bob"])
    assert session.amr == ["pwd"] and session.acr == mfa.ACR_ONE_FACTOR and session.auth_time is not None
    token = claims(response.cookies["sso_access"].value)
    assert token["amr"] == ["pwd"] and token["acr"] == "urn:sso:1fa" and token["auth_time"] > 0


def test_with_a_second_factor_the_password_leads_to_the_second_step_only(client, users):
    enrol(users["bob"])
    response = password_step(client)
    assert response.status_code == 302 and response["Location"] == "/login/second-factor/"
    assert "sso_access" not in response.cookies and "sso_refresh" not in response.cookies
    assert not SSOSession.objects.filter(user=users["bob"]).exists()
    pending = response.cookies[mfa.PENDING_COOKIE]
    assert pending["httponly"] and pending["max-age"] == mfa.PENDING_MAX_AGE_SECONDS


def test_a_code_completes_the_sign_in_with_two_factors(client, users, moved_clock):
    enrol(users["bob"])
    password_step(client)
    page = client.get("/login/second-factor/")
    assert page.status_code == 200 and b"authenticator app" in page.content
    response = client.post("/login/second-factor/", {"code": code_at(moved_clock.now)})
    assert response.status_code == 302 and response["Location"] == ORDERS_PAGE
    session = SSOSession.objects.get(user=users["bob"])
    assert session.amr == ["pwd", "otp", "mfa"] and session.acr == mfa.ACR_TWO_FACTORS
    token = claims(response.cookies["sso_access"].value)
    assert token["amr"] == ["pwd", "otp", "mfa"] and token["acr"] == "urn:sso:2fa"
    assert token["auth_time"] == int(moved_clock.now.timestamp())
    assert response.cookies[mfa.PENDING_COOKIE].value == ""  # deleted
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.MFA_SUCCEEDED, user=users["bob"]).exists()


def test_a_wrong_code_is_refused_and_signs_nobody_in(client, users, moved_clock):
    enrol(users["bob"])
    password_step(client)
    wrong = "000000" if code_at(moved_clock.now) != "000000" else "111111"
    response = client.post("/login/second-factor/", {"code": wrong})
    assert response.status_code == 401 and b"not right" in response.content
    assert not SSOSession.objects.filter(user=users["bob"]).exists()


def test_a_replayed_code_is_refused(client, users, moved_clock):
    enrol(users["bob"])
    code = code_at(moved_clock.now)
    password_step(client)
    client.post("/login/second-factor/", {"code": code})
    client.cookies.clear()
    password_step(client)
    assert client.post("/login/second-factor/", {"code": code}).status_code == 401


def test_a_recovery_code_completes_the_sign_in_once(client, users):
    enrol(users["bob"])
    codes = recovery_codes.recovery_codes_generate(user=users["bob"])
    password_step(client)
    assert b"Recovery code" in client.get("/login/second-factor/?method=recovery").content
    response = client.post("/login/second-factor/?method=recovery", {"code": codes[0]})
    assert response.status_code == 302
    assert SSOSession.objects.get(user=users["bob"]).amr == ["pwd", "mfa"]
    client.cookies.clear()
    password_step(client)
    assert client.post("/login/second-factor/?method=recovery", {"code": codes[0]}).status_code == 401


def test_without_a_pending_sign_in_the_second_step_sends_to_the_login_page(client, users):
    assert client.get("/login/second-factor/")["Location"] == "/login/"
    client.cookies[mfa.PENDING_COOKIE] = signing.dumps({"u": users["bob"].pk, "n": "/", "a": ["pwd"], "x": "n"})
    assert client.get("/login/second-factor/")["Location"] == "/login/"  # not signed with the pending salt


def test_an_expired_pending_sign_in_is_refused(client, users, monkeypatch):
    enrol(users["bob"])
    password_step(client)
    # Django's signed cookies read the system time (not issuer.clock): their max age is checked there.
    later = time.time() + mfa.PENDING_MAX_AGE_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/login/second-factor/")["Location"] == "/login/"


def test_a_spent_pending_sign_in_cannot_be_used_again(client, users, moved_clock):
    enrol(users["bob"])
    password_step(client)
    pending = client.cookies[mfa.PENDING_COOKIE].value
    client.post("/login/second-factor/", {"code": code_at(moved_clock.now)})
    client.cookies[mfa.PENDING_COOKIE] = pending
    assert client.get("/login/second-factor/")["Location"] == "/login/"


def test_an_inactive_user_s_pending_sign_in_is_refused(client, users):
    enrol(users["bob"])
    password_step(client)
    users["bob"].is_active = False
    users["bob"].save()
    assert client.get("/login/second-factor/")["Location"] == "/login/"


def test_a_staff_member_gets_the_admin_only_after_the_second_step(client, users, moved_clock):
    enrol(users["alice"])
    password_step(client, "alice", "/admin/")
    assert "_auth_user_id" not in client.session
    response = client.post("/login/second-factor/", {"code": code_at(moved_clock.now)})
    assert response["Location"] == "/admin/"
    assert client.session["_auth_user_id"] == str(users["alice"].pk)


def test_the_page_offers_the_passkey_include(client, users):
    enrol(users["bob"])
    password_step(client)
    response = client.get("/login/second-factor/")
    assert "issuer/_passkey_button.html" in [template.name for template in response.templates]


def test_amr_gains_mfa_for_two_distinct_factors_or_a_user_verifying_passkey():
    assert mfa.amr_complete(["pwd"]) == ["pwd"]
    assert mfa.amr_complete(["pwd", "otp"]) == ["pwd", "otp", "mfa"]
    assert mfa.amr_complete(["pwd", "pwd"]) == ["pwd"]
    assert mfa.amr_complete(["hwk"]) == ["hwk"]
    assert mfa.amr_complete(["swk", "user"]) == ["swk", "user", "mfa"]
    assert mfa.amr_complete(["pwd", "mfa"]) == ["pwd", "mfa"]
    assert mfa.acr_for(["pwd", "otp", "mfa"]) == "urn:sso:2fa" and mfa.acr_for(["pwd"]) == "urn:sso:1fa"


@pytest.mark.parametrize("code", ["\x00", "a" * 65, "١٢٣٤٥٦", "<script>", "' OR 1=1 --", "12345\n6"])
def test_hostile_codes_get_a_clear_4xx(client, users, code):
    enrol(users["bob"])
    password_step(client)
    response = client.post("/login/second-factor/", {"code": code})
    assert response.status_code in (400, 401)
    assert not SSOSession.objects.filter(user=users["bob"]).exists()


@pytest.mark.parametrize("otp", ["\x00", "a" * 65, "١٢٣٤٥٦", {"x": 1}, ["123456"]])
def test_hostile_otp_fields_at_the_api_get_a_clear_4xx(api, users, otp):
    enrol(users["bob"])
    response = api.post("/api/token/", {"username": "bob", "password": PASSWORD, "otp": otp}, format="json")
    assert 400 <= response.status_code < 500
