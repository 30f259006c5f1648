"""Step-up (/login/step-up/): a signed-in person proves a second factor (and the password again when the sign-in
is older than max_age); the same session is upgraded in place, audited, and the browser goes back to `next`."""

from urllib.parse import urlencode

import pytest

from issuer.models import AuditEvent, SSOSession
from issuer.services import recovery_codes

from .conftest import PASSWORD, claims, code_at, enrol

pytestmark = pytest.mark.django_db

ORDERS_PAGE = "http://localhost:8001/api/orders/"


def step_up_url(next_url=ORDERS_PAGE, **extra) -> str:
    return f"/login/step-up/?{urlencode({'next': next_url, **extra})}"


@pytest.fixture
def bob(client, users, apps, moved_clock):
    """Bob with an authenticator app, signed in with his password only (the app came after: a reset, say),
    and orders now requiring a second factor."""
    client.post("/login/", {"username": "bob", "password": PASSWORD})
    enrol(users["bob"])
    apps["orders"].mfa_required = True
    apps["orders"].save()
    return SSOSession.objects.get(user=users["bob"])


def test_step_up_upgrades_the_same_session_and_returns(client, bob, moved_clock):
    page = client.get(step_up_url())
    assert page.status_code == 200 and b"Password" not in page.content
    moved_clock.advance(40)
    response = client.post(step_up_url(), {"code": code_at(moved_clock.now)})
    assert response.status_code == 302 and response["Location"] == ORDERS_PAGE
    session = SSOSession.objects.get(pk=bob.pk)
    assert session.sid == bob.sid and session.revoked_at is None
    assert session.amr == ["pwd", "otp", "mfa"] and session.acr == "urn:sso:2fa"
    assert session.auth_time == moved_clock.now
    token = claims(response.cookies["sso_access"].value)
    assert token["sid"] == bob.sid and "orders" in token["aud"] and token["amr"] == ["pwd", "otp", "mfa"]
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.MFA_SUCCEEDED, sid=bob.sid, detail="step-up").exists()


def test_the_old_refresh_cookie_is_spent_by_the_step_up(client, bob, moved_clock):
    old_refresh = client.cookies["sso_refresh"].value
    client.get(step_up_url())
    client.post(step_up_url(), {"code": code_at(moved_clock.now)})
    assert SSOSession.objects.get(pk=bob.pk).refresh_jti not in old_refresh


def test_an_old_sign_in_must_give_the_password_too(client, bob, moved_clock):
    moved_clock.advance(600)
    page = client.get(step_up_url(max_age=300))
    assert b"Password" in page.content
    code = code_at(moved_clock.now)
    wrong = client.post(step_up_url(max_age=300), {"code": code, "password": "wrong"})
    assert wrong.status_code == 401
    assert SSOSession.objects.get(pk=bob.pk).amr == ["pwd"]
    response = client.post(step_up_url(max_age=300), {"code": code, "password": PASSWORD})
    assert response["Location"] == ORDERS_PAGE
    assert SSOSession.objects.get(pk=bob.pk).amr == ["pwd", "otp", "mfa"]


def test_a_fresh_enough_two_factor_session_goes_straight_back(client, bob, moved_clock):
    client.get(step_up_url())
    client.post(step_up_url(), {"code": code_at(moved_clock.now)})
    moved_clock.advance(100)
    assert client.get(step_up_url(max_age=300))["Location"] == ORDERS_PAGE
    moved_clock.advance(300)
    assert client.get(step_up_url(max_age=300)).status_code == 200  # decayed: asked again


def test_a_wrong_code_upgrades_nothing(client, bob, moved_clock):
    client.get(step_up_url())
    wrong = "000000" if code_at(moved_clock.now) != "000000" else "111111"
    assert client.post(step_up_url(), {"code": wrong}).status_code == 401
    assert SSOSession.objects.get(pk=bob.pk).amr == ["pwd"]


def test_a_recovery_code_steps_up(client, bob, users):
    code = recovery_codes.recovery_codes_generate(user=users["bob"])[0]
    client.get(step_up_url(method="recovery"))
    response = client.post(step_up_url(method="recovery"), {"code": code})
    assert response["Location"] == ORDERS_PAGE
    assert SSOSession.objects.get(pk=bob.pk).amr == ["pwd", "mfa"]


def test_next_is_held_to_the_allowed_destinations(client, bob, moved_clock):
    client.get(step_up_url("https://evil.example/"))
    response = client.post(step_up_url("https://evil.example/"), {"code": code_at(moved_clock.now)})
    assert response["Location"] == "/"


def test_without_a_session_step_up_goes_through_renewal(client, users):
    response = client.get(step_up_url())
    assert response["Location"].startswith("/session/renew/?")


def test_someone_without_a_second_factor_is_told_where_to_add_one(client, users, apps):
    apps["orders"].mfa_required = True
    apps["orders"].save()
    client.post("/login/", {"username": "bob", "password": PASSWORD})
    response = client.get(step_up_url())
    assert response.status_code == 403
    assert b"/account/" in response.content and b"Orders requires" in response.content


def test_a_post_without_the_page_s_pending_state_changes_nothing(client, bob, moved_clock):
    response = client.post(step_up_url(), {"code": code_at(moved_clock.now)})
    assert response.status_code == 200  # the form again, with a fresh pending state
    assert SSOSession.objects.get(pk=bob.pk).amr == ["pwd"]


@pytest.mark.parametrize("max_age", ["-1", "abc", "9" * 20])
def test_a_hostile_max_age_is_ignored(client, bob, max_age):
    assert client.get(step_up_url(max_age=max_age)).status_code == 200
