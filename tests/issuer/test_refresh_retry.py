"""A retried refresh is not a theft: a rotated refresh token presented again within seconds of its rotation,
before the token that replaced it was used, gets that rotation's pair again; later, or after the new token was
used, it is a replay and revokes the session. One rule for the API and the browser (issuer.services.sessions)."""

from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from issuer import clock
from issuer.models import SSOSession

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def jti(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["jti"]


def refresh(api, token: str):
    return api.post("/api/token/refresh/", {"refresh": token}, format="json")


@pytest.fixture
def signed_in(api, users) -> dict:
    return api.post("/api/token/", {"username": "bob", "password": PASSWORD}, format="json").json()


def test_a_client_whose_answer_was_lost_gets_its_rotation_again(api, signed_in):
    lost = refresh(api, signed_in["refresh"]).json()  # rotated at the issuer; the client timed out
    retried = refresh(api, signed_in["refresh"])
    assert retried.status_code == 200
    body = retried.json()
    assert body["sid"] == signed_in["sid"] and jti(body["refresh"]) == jti(lost["refresh"])
    session = SSOSession.objects.get(sid=signed_in["sid"])
    assert session.revoked_at is None and session.refresh_jti == jti(lost["refresh"])
    # The session goes on from the retried answer.
    assert refresh(api, body["refresh"]).status_code == 200


def test_reuse_after_the_new_token_was_used_revokes(api, signed_in):
    rotated = refresh(api, signed_in["refresh"]).json()
    assert refresh(api, rotated["refresh"]).status_code == 200
    assert refresh(api, signed_in["refresh"]).status_code == 401
    assert SSOSession.objects.get(sid=signed_in["sid"]).revoked_reason == SSOSession.RevokedReason.REFRESH_REUSE


def test_reuse_after_the_grace_period_revokes(api, signed_in, settings, monkeypatch):
    refresh(api, signed_in["refresh"])
    later = timezone.now() + timedelta(seconds=settings.SSO_REFRESH_RETRY_GRACE_SECONDS + 1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert refresh(api, signed_in["refresh"]).status_code == 401
    assert SSOSession.objects.get(sid=signed_in["sid"]).revoked_reason == SSOSession.RevokedReason.REFRESH_REUSE


def test_an_older_token_than_the_last_one_rotated_is_a_replay(api, signed_in):
    second = refresh(api, signed_in["refresh"]).json()
    refresh(api, second["refresh"])
    # Within seconds, but two rotations back: not the token the current one replaced.
    assert refresh(api, signed_in["refresh"]).status_code == 401


def test_a_retry_renews_nothing_for_an_ended_session(api, signed_in):
    rotated = refresh(api, signed_in["refresh"]).json()
    assert api.post("/api/logout/", {"refresh": rotated["refresh"]}, format="json").status_code == 200
    assert refresh(api, signed_in["refresh"]).status_code == 401
