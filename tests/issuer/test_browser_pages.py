"""The issuer's browser pages: the login page (cookies, the `next` allowlist, staff admin sessions), the
logout page, the home page, and clickjacking protection on each."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from issuer import messages
from issuer.models import AuditEvent, SSOSession
from issuer.services import browser
from issuer.services.credentials import LoginThrottled
from issuer.services.sessions import user_sessions_revoke
from issuer.views import pages

from .conftest import PASSWORD, obtain

pytestmark = pytest.mark.django_db

ORDERS_PAGE = "http://localhost:8001/api/orders/"


def sign_in(client: Client, username: str, *, next_url: str = "", password: str = PASSWORD):
    return client.post("/login/", {"username": username, "password": password, "next": next_url})


# ---- the next-URL allowlist ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/admin/",
        "/admin/issuer/ssosession/?state=live",
        "http://localhost:8000/logout/",
        ORDERS_PAGE,
        "http://localhost:8001/api/orders/?format=api&page=2",
        "http://localhost:8002/api/products/mug-blue/",
    ],
)
def test_next_may_be_the_issuer_or_a_configured_relying_origin(target):
    assert browser.redirect_target(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "http://evil.example/",
        "https://evil.example/path",
        "//evil.example/",
        "///evil.example/",
        "////evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "http:\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "http://localhost:8001@evil.example/",
        "http://user:pass@localhost:8001/",
        "http://localhost:8001.evil.example/",
        "http://evil.localhost:8001/",
        "http://localhost:8003/",
        "http://localhost/",
        "https://localhost:8001/",  # the configured origin is http: the scheme is part of it
        "ftp://localhost:8001/",
        "%2F%2Fevil.example",
        "http%3A%2F%2Fevil.example",
        "api/orders/",
        "\thttp://evil.example",
        "/\nLocation: http://evil.example",
        "http://localhost:8001/\r\nSet-Cookie: x=1",
        "/" + "a" * 3000,
    ],
)
def test_any_other_next_goes_to_the_safe_default(target):
    assert browser.redirect_target(target) == "/"


def test_next_must_be_https_when_the_origins_are(settings):
    settings.SITE_ORIGINS = ["https://sso.example.com", "https://orders.example.com"]
    settings.HTTPS = True
    assert browser.redirect_target("https://orders.example.com/api/orders/") == "https://orders.example.com/api/orders/"
    assert browser.redirect_target("http://orders.example.com/api/orders/") == "/"


@pytest.mark.parametrize("target", ["http://evil.example/", "//evil.example/", "javascript:alert(1)", "/\\evil"])
def test_signing_in_with_a_foreign_next_goes_home(client, users, target):
    response = sign_in(client, "bob", next_url=target)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_signing_in_returns_to_a_relying_app(client, users):
    response = sign_in(client, "bob", next_url=ORDERS_PAGE)
    assert response.status_code == 302
    assert response["Location"] == ORDERS_PAGE


def test_the_login_page_carries_a_safe_next_into_its_form(client):
    page = client.get("/login/", {"next": ORDERS_PAGE}).content.decode()
    assert f'name="next" value="{ORDERS_PAGE}"' in page
    page = client.get("/login/", {"next": "http://evil.example/"}).content.decode()
    assert 'name="next" value="/"' in page and "evil.example" not in page


def test_the_login_page_links_to_password_reset(client):
    assert 'href="/password-reset/"' in client.get("/login/").content.decode()


# ---- cookies ------------------------------------------------------------------------------------------


def test_signing_in_sets_the_access_and_refresh_cookies(client, users, settings):
    response = sign_in(client, "bob", next_url=ORDERS_PAGE)
    access, refresh = response.cookies["sso_access"], response.cookies["sso_refresh"]

    assert access["httponly"] is True and access["samesite"] == "Lax" and not access["secure"]
    assert access["path"] == "/" and access["domain"] == ""  # host-only on localhost: shared across ports
    assert access["max-age"] == 300

    assert refresh["httponly"] is True and refresh["samesite"] == "Lax" and not refresh["secure"]
    assert refresh["path"] == "/session/" and refresh["domain"] == ""
    assert refresh["max-age"] == int(settings.REFRESH_TOKEN_LIFETIME.total_seconds())

    session = SSOSession.objects.get(user=users["bob"])
    assert session.revoked_at is None and session.refresh_jti
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_SUCCEEDED, sid=session.sid).exists()


def test_the_access_cookie_goes_to_the_parent_domain_and_both_are_secure_over_https(client, users, settings):
    settings.SSO_COOKIE_DOMAIN = ".example.com"
    settings.HTTPS = True
    response = sign_in(client, "bob")
    access, refresh = response.cookies["sso_access"], response.cookies["sso_refresh"]
    assert access["domain"] == ".example.com" and access["secure"] is True
    assert refresh["domain"] == "" and refresh["secure"] is True, "the refresh cookie stays host-only"


def test_wrong_password_sets_no_cookie_and_is_audited(client, users):
    response = sign_in(client, "bob", password="wrong", next_url=ORDERS_PAGE)
    assert response.status_code == 401
    assert "Wrong username or password." in response.content.decode()
    assert "sso_access" not in response.cookies and "sso_refresh" not in response.cookies
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_FAILED, username="bob").exists()


def test_unknown_and_inactive_users_get_the_same_answer_as_a_wrong_password(client, users):
    users["carol"].is_active = False
    users["carol"].save()
    bodies = set()
    for username, password in (("bob", "wrong"), ("nobody", PASSWORD), ("carol", PASSWORD)):
        response = sign_in(client, username, password=password)
        assert response.status_code == 401
        bodies.add(response.content.decode().replace(f'value="{username}"', 'value=""'))
    assert len({body.split('name="csrfmiddlewaretoken"')[0] for body in bodies}) == 1


def test_a_throttled_sign_in_gets_429_and_no_cookie(client, users, monkeypatch):
    def throttled(**kwargs):
        raise LoginThrottled(60)

    monkeypatch.setattr(pages, "credentials_authenticate", throttled)
    response = sign_in(client, "bob")
    assert response.status_code == 429
    assert f"{messages.PAGE_LOGIN_THROTTLED} Try again in 1 minute." in response.content.decode()
    assert response["Retry-After"] == "60"
    assert "sso_access" not in response.cookies


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "1 second"), (45, "45 seconds"), (60, "1 minute"), (61, "2 minutes"), (600, "10 minutes")],
)
def test_the_wait_is_said_in_words_never_shorter_than_it_is(seconds, words):
    assert pages.wait_in_words(seconds) == words


def test_signing_in_sets_last_login_on_every_path(client, users):
    assert users["bob"].last_login is None
    sign_in(client, "bob")
    users["bob"].refresh_from_db()
    first = users["bob"].last_login
    assert first is not None
    assert obtain(APIClient(), "bob").status_code == 200
    users["bob"].refresh_from_db()
    assert users["bob"].last_login > first
    sign_in(client, "carol", password="wrong")
    users["carol"].refresh_from_db()
    assert users["carol"].last_login is None, "a failed attempt is no login"


@pytest.mark.parametrize(
    ("target", "name"),
    [(ORDERS_PAGE, "Orders"), ("/admin/issuer/auditevent/", "Administration"), ("/inspect/", "the token inspector")],
)
def test_the_login_page_says_where_signing_in_leads(client, apps, target, name):
    page = client.get("/login/", {"next": target}).content.decode()
    assert f"To continue to <strong>{name}</strong>." in page


def test_the_login_page_for_home_names_no_app(client, apps):
    assert "login-destination" not in client.get("/login/").content.decode()
    assert "login-destination" not in client.get("/login/", {"next": "http://localhost:8003/"}).content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"username": "bob"},
        {"username": "x" * 10_000, "password": "p"},
        {"username": "bob", "password": "p" * 5000},
        {"username": "bob\x00", "password": PASSWORD},
    ],
)
def test_malformed_sign_in_forms_get_a_4xx(client, users, data):
    response = client.post("/login/", data)
    assert 400 <= response.status_code < 500
    assert "sso_access" not in response.cookies


def test_the_login_form_needs_its_csrf_token(users):
    client = Client(enforce_csrf_checks=True)
    response = sign_in(client, "bob")
    assert response.status_code == 403
    assert "sso_access" not in response.cookies


def test_a_person_sent_to_an_app_they_may_not_use_is_told_so(client, users):
    response = sign_in(client, "carol", next_url=ORDERS_PAGE)
    assert response.status_code == 403
    page = response.content.decode()
    assert "No access to Orders" in page
    assert "Signed in as <strong>carol</strong>" in page
    assert 'href="/logout/?next=http%3A%2F%2Flocalhost%3A8001%2Fapi%2Forders%2F"' in page, "someone else may"
    assert "sso_access" in response.cookies, "still signed in, for the apps carol may use"


@pytest.mark.parametrize(("target", "name"), [("/admin/", "Administration"), ("/inspect/", "the token inspector")])
def test_someone_not_staff_signing_in_for_a_staff_page_is_told_why(client, users, target, name):
    response = sign_in(client, "bob", next_url=target)
    assert response.status_code == 403
    page = response.content.decode()
    assert f"No access to {name}" in page and "Signed in as <strong>bob</strong>" in page
    assert f"{name} is for staff accounts only." in page
    assert "sso_access" in response.cookies, "still signed in, for bob's apps"
    # The admin sends them to its login page on the next visit too: the same answer there, not the form.
    again = client.get("/admin/login/", {"next": target})
    assert again.status_code == 403 and f"No access to {name}" in again.content.decode()


def test_staff_signing_in_for_a_staff_page_go_there(client, users):
    assert sign_in(client, "alice", next_url="/inspect/")["Location"] == "/inspect/"


def test_a_refused_form_gets_the_issuers_notice(users):
    response = Client(enforce_csrf_checks=True).post("/login/", {"username": "bob", "password": PASSWORD})
    assert response.status_code == 403
    assert "This form could not be sent" in response.content.decode()
    assert "/static/issuer/sso.css" in response.content.decode()


def test_the_icon_is_on_every_page_and_at_favicon_ico(client):
    assert 'rel="icon" href="/static/issuer/favicon.svg"' in client.get("/login/").content.decode()
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/issuer/favicon.svg"


# ---- the admin's Django session -----------------------------------------------------------------------


def test_staff_are_signed_in_to_the_admin_too(client, users):
    response = sign_in(client, "alice", next_url="/admin/")
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    sid = SSOSession.objects.get(user=users["alice"]).sid
    assert client.session[pages.SESSION_SID_KEY] == sid


def test_other_people_get_no_admin_session(client, users):
    sign_in(client, "bob")
    assert "sso_issuer_session" not in client.cookies
    assert client.get("/admin/").status_code == 302


def test_the_admin_signs_in_through_the_sso_login_page(client):
    response = client.get("/admin/login/", {"next": "/admin/issuer/auditevent/"})
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fadmin%2Fissuer%2Fauditevent%2F"
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_ending_the_sso_session_ends_the_admin_session(client, users, django_capture_on_commit_callbacks):
    sign_in(client, "alice")
    assert client.get("/admin/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        user_sessions_revoke(user=users["alice"], reason=SSOSession.RevokedReason.LOGOUT_EVERYWHERE)
    assert client.get("/admin/").status_code == 302


# ---- logout -------------------------------------------------------------------------------------------


def test_the_logout_page_asks_first_with_a_csrf_protected_form(client, users):
    sign_in(client, "bob")
    page = client.get("/logout/", {"next": ORDERS_PAGE}).content.decode()
    assert 'action="/session/logout/"' in page and 'name="csrfmiddlewaretoken"' in page
    assert f'name="next" value="{ORDERS_PAGE}"' in page
    assert "signed in as <strong>bob</strong>" in page
    assert SSOSession.objects.get(user=users["bob"]).revoked_at is None, "a GET signs nobody out"


def test_signing_out_ends_the_session_and_deletes_both_cookies(client, users, settings):
    settings.SSO_COOKIE_DOMAIN = ".example.com"
    sign_in(client, "bob")
    session = SSOSession.objects.get(user=users["bob"])
    response = client.post("/session/logout/", {"next": ORDERS_PAGE})
    assert response.status_code == 302
    assert response["Location"] == "/logout/done/?next=http%3A%2F%2Flocalhost%3A8001%2Fapi%2Forders%2F"
    access, refresh = response.cookies["sso_access"], response.cookies["sso_refresh"]
    assert access.value == "" and access["max-age"] == 0
    assert (access["domain"], access["path"]) == (".example.com", "/"), "deleted where it was set"
    assert refresh.value == "" and refresh["max-age"] == 0 and refresh["path"] == "/session/"
    session.refresh_from_db()
    assert session.revoked_reason == SSOSession.RevokedReason.LOGOUT
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGOUT, sid=session.sid).exists()
    assert session.sid in client.get("/api/revocations/").json()["revoked_sids"]


def test_signing_out_without_the_refresh_cookie_uses_the_access_cookie(client, users):
    sign_in(client, "bob")
    del client.cookies["sso_refresh"]
    client.post("/session/logout/")
    assert SSOSession.objects.get(user=users["bob"]).revoked_at is not None


def test_signing_out_ends_the_admin_session(client, users):
    sign_in(client, "alice")
    client.post("/session/logout/")
    assert client.get("/admin/").status_code == 302


def test_signing_out_needs_the_csrf_token(users):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    client.post("/login/", {"username": "bob", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert client.post("/session/logout/").status_code == 403
    assert SSOSession.objects.get(user=users["bob"]).revoked_at is None


def test_the_signed_out_page_offers_to_sign_in_again(client):
    page = client.get("/logout/done/", {"next": ORDERS_PAGE}).content.decode()
    assert 'href="/login/?next=http%3A%2F%2Flocalhost%3A8001%2Fapi%2Forders%2F"' in page


# ---- home ---------------------------------------------------------------------------------------------


def test_home_shows_who_is_signed_in_and_their_apps(client, users):
    assert "Sign in" in client.get("/").content.decode()
    sign_in(client, "carol")
    page = client.get("/").content.decode()
    assert '<span id="home-username">carol</span>' in page
    assert "catalog_manager" in page
    assert "http://localhost:8002/" in page and "http://localhost:8001/" not in page


def test_home_links_staff_to_the_inspector(client, users):
    sign_in(client, "bob")
    assert "/inspect/" not in client.get("/").content.decode()
    sign_in(client, "alice")
    assert 'href="/inspect/" id="home-inspector"' in client.get("/").content.decode()


def test_home_forgets_a_revoked_session(client, users):
    sign_in(client, "bob")
    SSOSession.objects.filter(user=users["bob"]).update(revoked_at="2020-01-01T00:00:00Z")
    assert "home-username" not in client.get("/").content.decode()


# ---- clickjacking -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/login/", "/logout/", "/logout/done/", "/admin/", "/session/renew/"])
def test_no_page_may_be_framed(client, path):
    response = client.get(path)
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
