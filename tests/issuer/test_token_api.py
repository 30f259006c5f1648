"""The issuer's token endpoints: obtain, claims, audience narrowing, refresh rotation, logout."""

import json

import jwt
import pytest
from django.conf import settings

from issuer import clock
from issuer.models import AuditEvent, SSOSession

from .conftest import PASSWORD, obtain

pytestmark = pytest.mark.django_db


def unverified(token: str) -> tuple[dict, dict]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def test_obtain_returns_an_rs256_access_token_with_the_contract_claims(api, users):
    response = obtain(api, "bob")
    assert response.status_code == 200
    body = response.json()
    header, claims = unverified(body["access"])
    assert header["alg"] == "RS256" and header["kid"]
    assert set(claims) >= {"iss", "sub", "aud", "exp", "iat", "jti", "token_type", "sid", "roles", "username"}
    assert claims["iss"] == settings.SSO_ISSUER_URL
    assert claims["sub"] == str(users["bob"].pk)
    # The apps bob may use, not the issuer: a relying app receiving it cannot use the issuer's account API.
    assert claims["aud"] == ["orders", "products"]
    assert claims["token_type"] == "access"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["username"] == "bob" and claims["roles"] == []
    assert "staff" not in claims
    assert claims["sid"] == body["sid"]


def test_access_token_verifies_against_the_published_jwks(api, users):
    access = obtain(api, "carol").json()["access"]
    jwks = api.get("/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(access)["kid"]
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(access, key.key, algorithms=["RS256"], audience="products", issuer=settings.SSO_ISSUER_URL)
    assert claims["roles"] == ["catalog_manager"]
    assert claims["aud"] == ["products"]


def test_every_token_is_under_one_kilobyte(api, users):
    for username in ("alice", "bob", "carol"):
        body = obtain(api, username).json()
        assert len(body["access"]) < 1024, username
        assert len(body["refresh"]) < 1024, username


def test_a_very_long_username_leaves_the_token_under_one_kilobyte(api, users, apps):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    long_name = "l" * 150
    user = get_user_model().objects.create_user(long_name, password=PASSWORD, is_staff=True, is_superuser=True)
    roles = sorted(f"{name}_department_team" for name in ("billing", "support", "catalog", "shipping"))
    user.groups.set([Group.objects.create(name=name) for name in roles])
    body = obtain(api, long_name).json()
    assert len(body["access"]) <= 1024
    claims = unverified(body["access"])[1]
    # With the name the token would pass 1 KB; without it (display only) it fits, every role and app kept.
    assert "username" not in claims and claims["roles"] == roles
    assert claims["aud"] == ["orders", "products"] and claims["sub"] == str(user.pk)


def test_roles_that_do_not_fit_are_refused_never_trimmed(api, users):
    from django.contrib.auth.models import Group

    users["bob"].groups.set([Group.objects.create(name=f"role-with-a-long-name-{n:02d}") for n in range(20)])
    response = obtain(api, "bob")
    assert response.status_code == 403
    assert response.json()["code"] == "token_too_large"


def test_audience_narrows_the_access_token_to_one_app(api, users):
    body = obtain(api, "bob", audience="products").json()
    assert unverified(body["access"])[1]["aud"] == ["products"]
    refreshed = api.post("/api/token/refresh/", {"refresh": body["refresh"]}, format="json").json()
    assert unverified(refreshed["access"])[1]["aud"] == ["products"], "narrowing survives refresh"


def test_audience_the_user_may_not_use_is_refused(api, users):
    response = obtain(api, "carol", audience="orders")
    assert response.status_code == 403
    assert response.json()["code"] == "audience_not_allowed"


def test_unknown_wrong_password_and_inactive_users_get_the_same_401(api, users):
    users["bob"].is_active = False
    users["bob"].save()
    responses = [obtain(api, "nobody"), obtain(api, "carol", "wrong password"), obtain(api, "bob")]
    assert {r.status_code for r in responses} == {401}
    assert len({json.dumps(r.json(), sort_keys=True) for r in responses}) == 1
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_FAILED).count() == 3


def test_staff_flag_is_in_the_token_of_staff_only(api, users):
    claims = unverified(obtain(api, "alice").json()["access"])[1]
    assert claims["staff"] is True
    assert claims["aud"] == ["orders", "products"]


def test_refresh_rotates_and_keeps_the_session(api, users):
    first = obtain(api, "bob").json()
    second = api.post("/api/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert second.status_code == 200
    second = second.json()
    assert second["refresh"] != first["refresh"]
    assert unverified(second["access"])[1]["sid"] == first["sid"]
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESHED, sid=first["sid"]).count() == 1


def test_reusing_a_rotated_refresh_token_revokes_the_session(api, users):
    first = obtain(api, "bob").json()
    second = api.post("/api/token/refresh/", {"refresh": first["refresh"]}, format="json").json()
    third = api.post("/api/token/refresh/", {"refresh": second["refresh"]}, format="json").json()
    # Once its successor was used, the rotated token again is a replay (a retry is the other case:
    # tests/issuer/test_refresh_retry.py).
    replay = api.post("/api/token/refresh/", {"refresh": first["refresh"]}, format="json")
    assert replay.status_code == 401
    session = SSOSession.objects.get(sid=first["sid"])
    assert session.revoked_reason == SSOSession.RevokedReason.REFRESH_REUSE
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REUSED, sid=first["sid"]).exists()
    # The legitimate holder's newer token dies with the session.
    assert api.post("/api/token/refresh/", {"refresh": third["refresh"]}, format="json").status_code == 401


def test_refresh_after_logout_is_refused(api, users):
    body = obtain(api, "bob").json()
    assert api.post("/api/logout/", {"refresh": body["refresh"]}, format="json").status_code == 200
    assert api.post("/api/token/refresh/", {"refresh": body["refresh"]}, format="json").status_code == 401
    assert SSOSession.objects.get(sid=body["sid"]).revoked_reason == SSOSession.RevokedReason.LOGOUT
    assert body["sid"] in api.get("/api/revocations/").json()["revoked_sids"]


def test_logout_with_a_rotated_out_refresh_token_is_refused_and_ends_nothing(api, users):
    """Only the session's current refresh token logs it out. An old one gets 401 and, unlike at refresh, trips
    no reuse detection: the session goes on (revoking would give a stale or forged token's holder what they
    asked for)."""
    first = obtain(api, "bob").json()
    second = api.post("/api/token/refresh/", {"refresh": first["refresh"]}, format="json").json()
    response = api.post("/api/logout/", {"refresh": first["refresh"]}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "token_not_valid"
    assert SSOSession.objects.get(sid=first["sid"]).revoked_at is None
    assert api.post("/api/token/refresh/", {"refresh": second["refresh"]}, format="json").status_code == 200


def test_logout_with_a_forged_refresh_token_for_a_known_sid_is_refused(api, users):
    """With the development SECRET_KEY anyone can sign a refresh token; one naming a session's `sid` but not
    its user and live `jti` ends nothing."""
    from issuer.signing.tokens import SSORefreshToken

    body = obtain(api, "bob").json()
    for sub in (str(users["alice"].pk), str(users["bob"].pk)):
        forged = SSORefreshToken()
        forged["sid"], forged["sub"] = body["sid"], sub
        assert api.post("/api/logout/", {"refresh": str(forged)}, format="json").status_code == 401
    assert SSOSession.objects.get(sid=body["sid"]).revoked_at is None


def test_logout_with_the_access_token_as_bearer(api, users):
    body = obtain(api, "bob", audience="sso").json()
    response = api.post("/api/logout/", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert response.status_code == 200
    assert SSOSession.objects.get(sid=body["sid"]).revoked_at is not None


def test_the_account_api_token_is_asked_for_and_names_the_issuer_alone(api, users):
    body = obtain(api, "carol", audience="sso").json()
    assert unverified(body["access"])[1]["aud"] == ["sso"]
    refreshed = api.post("/api/token/refresh/", {"refresh": body["refresh"]}, format="json").json()
    assert unverified(refreshed["access"])[1]["aud"] == ["sso"], "narrowing survives refresh"


@pytest.mark.parametrize("audience", ["", "orders"], ids=["default", "one-app"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/sessions/"), ("post", "/api/logout/everywhere/"), ("post", "/api/logout/"), ("post", "revoke")],
)
def test_a_token_handed_to_relying_apps_does_not_open_the_account_api(api, users, audience, method, path):
    """What orders receives from bob (the default token, or one narrowed to orders) cannot act at the issuer
    as bob: list his sessions, revoke them, or log him out."""
    body = obtain(api, "bob", audience=audience).json()
    other = obtain(api, "bob").json()
    path = f"/api/sessions/{other['sid']}/revoke/" if path == "revoke" else path
    response = getattr(api, method)(path, HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert response.status_code == 401
    assert not SSOSession.objects.filter(revoked_at__isnull=False).exists()


def test_a_token_naming_the_issuer_and_relying_apps_does_not_open_the_account_api(api, users):
    """The old default (issuer and apps in one token, signed by the issuer) is refused too: it was handed to
    the apps."""
    from issuer.signing.tokens import SSOAccessToken

    body = obtain(api, "bob").json()
    token = SSOAccessToken()
    token["sub"], token["sid"], token["aud"] = str(users["bob"].pk), body["sid"], ["sso", "orders", "products"]
    assert api.get("/api/sessions/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_inactive_user_cannot_refresh(api, users):
    body = obtain(api, "bob").json()
    users["bob"].is_active = False
    users["bob"].save()
    assert api.post("/api/token/refresh/", {"refresh": body["refresh"]}, format="json").status_code == 401


def test_password_change_revokes_sessions(api, users, django_capture_on_commit_callbacks):
    body = obtain(api, "bob").json()
    with django_capture_on_commit_callbacks(execute=True):
        users["bob"].set_password("another long password 123")
        users["bob"].save()
    assert SSOSession.objects.get(sid=body["sid"]).revoked_reason == SSOSession.RevokedReason.PASSWORD_CHANGED


def test_access_token_is_not_a_refresh_token(api, users):
    body = obtain(api, "bob").json()
    assert api.post("/api/token/refresh/", {"refresh": body["access"]}, format="json").status_code == 401


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "bob"}, {"username": ["x"], "password": {"a": 1}}, {"username": "x" * 5000, "password": "y"}],
)
def test_malformed_obtain_requests_get_400(api, users, body):
    assert api.post("/api/token/", body, format="json").status_code == 400


def test_my_sessions_are_listed_a_page_at_a_time(api, users):
    """A script that signs in on every run leaves a session each time: the list stays one bounded page."""
    mine = obtain(api, "bob", audience="sso").json()
    for _ in range(4):
        obtain(api, "bob")
    SSOSession.objects.filter(user__username="bob").exclude(sid=mine["sid"]).update(expires_at=clock.now())
    for _ in range(5):
        obtain(api, "bob")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {mine['access']}")
    first = api.get("/api/sessions/?page_size=4").json()
    assert first["count"] == 6, "expired sessions are not listed"
    assert len(first["results"]) == 4 and first["previous"] is None
    rest = api.get(first["next"]).json()
    assert [s["current"] for s in rest["results"]] == [False, True], "the oldest, this one, comes last"
    assert rest["next"] is None
    sids = [s["sid"] for s in first["results"] + rest["results"]]
    assert len(set(sids)) == 6
    assert len(api.get("/api/sessions/?page_size=100000").json()["results"]) == 6  # capped at 200, not refused
    assert api.get("/api/sessions/?page=9").status_code == 404


def test_my_sessions_can_be_listed_and_revoked(api, users):
    first = obtain(api, "bob", audience="sso").json()
    second = obtain(api, "bob").json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {first['access']}")
    listed = api.get("/api/sessions/").json()
    assert listed["count"] == 2 and listed["next"] is None
    assert [s["sid"] for s in listed["results"]] == [second["sid"], first["sid"]], "newest first"
    assert api.post(f"/api/sessions/{second['sid']}/revoke/").status_code == 204
    assert [s["sid"] for s in api.get("/api/sessions/").json()["results"]] == [first["sid"]]
    assert api.post("/api/logout/everywhere/").json()["sessions_revoked"] == 1
    assert api.get("/api/sessions/").status_code == 401
