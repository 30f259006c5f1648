"""The issuer's admin: staff only; users (create, deactivate, password, roles, app access) with their SSO
sessions; relying apps; sessions with revoke; signing keys for superusers without private material; audit
events read-only and filterable."""

from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from issuer.models import AuditEvent, RelyingApp, SigningKey, SSOSession
from issuer.selectors import user_audiences, user_roles
from issuer.services.audit import audit_record
from issuer.services.credentials import InvalidCredentials, credentials_authenticate
from issuer.services.revocations import revoked_session_ids
from issuer.services.sessions import session_start

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()


class FormFields(HTMLParser):
    """The fields a browser would submit from the page's main form, with their current values."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((name, a.get("value") or ("on" if a.get("type") == "checkbox" else "")))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))
        elif tag == "textarea" and name:
            self.fields.append((name, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def form_data(client: Client, url: str, **changes) -> dict:
    parser = FormFields()
    parser.feed(client.get(url).content.decode())
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    data.pop("action", None)
    data.update({name: value if isinstance(value, list) else [value] for name, value in changes.items()})
    return data


@pytest.fixture
def admin_client(users):
    client = Client()
    client.force_login(users["alice"])
    return client


@pytest.fixture
def signed_in_bob(users):
    """Two live SSO sessions of bob's."""
    return [session_start(user=users["bob"]).session for _ in range(2)]


# ---- staff only ---------------------------------------------------------------------------------------

ADMIN_PAGES = [
    "/admin/",
    "/admin/auth/user/",
    "/admin/auth/user/add/",
    "/admin/auth/group/",
    "/admin/issuer/relyingapp/",
    "/admin/issuer/relyingapp/add/",
    "/admin/issuer/ssosession/",
    "/admin/issuer/ssosession/?state=live",
    "/admin/issuer/signingkey/",
    "/admin/issuer/auditevent/",
    "/admin/issuer/auditevent/?kind__exact=login_failed",
]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_render_for_staff(admin_client, signed_in_bob, path):
    audit_record(kind=AuditEvent.Kind.LOGIN_FAILED, username="mallory")
    response = admin_client.get(path)
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_are_refused_to_other_people(users, path):
    client = Client()
    client.force_login(users["bob"])
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert Client().get(path).status_code == 302


def test_the_user_page_shows_app_access_and_sessions(admin_client, users, signed_in_bob):
    page = admin_client.get(f"/admin/auth/user/{users['bob'].pk}/change/").content.decode()
    assert "App access" in page
    assert "SSO sessions" in page
    for session in signed_in_bob:
        assert session.sid in page
    assert "refresh_jti" not in page
    assert "access to Orders" in page and "RelyingApp_users object" not in page


# ---- users --------------------------------------------------------------------------------------------


def test_staff_create_a_user_then_give_roles_and_app_access(admin_client, apps):
    response = admin_client.post(
        "/admin/auth/user/add/",
        form_data(
            admin_client,
            "/admin/auth/user/add/",
            username="dave",
            usable_password="true",
            password1="a long enough passphrase",
            password2="a long enough passphrase",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    dave = User.objects.get(username="dave")
    assert dave.check_password("a long enough passphrase")

    role = Group.objects.create(name="support")
    url = f"/admin/auth/user/{dave.pk}/change/"
    data = form_data(admin_client, url, groups=[str(role.pk)])
    prefix = next(name for name in data if name.endswith("-TOTAL_FORMS") and "relyingapp" in name.lower())
    inline = prefix.removesuffix("-TOTAL_FORMS")
    data.update({prefix: ["1"], f"{inline}-0-relyingapp": [str(apps["products"].pk)]})
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    dave.refresh_from_db()
    assert user_roles(user=dave) == ["support"]
    assert user_audiences(user=dave) == ["products"]


def test_staff_set_a_password_and_the_sessions_end(
    admin_client, users, signed_in_bob, django_capture_on_commit_callbacks
):
    url = f"/admin/auth/user/{users['bob'].pk}/password/"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, {"password1": "another long passphrase", "password2": "another long passphrase"}
        )
    assert response.status_code == 302
    users["bob"].refresh_from_db()
    assert users["bob"].check_password("another long passphrase")
    reasons = set(SSOSession.objects.filter(user=users["bob"]).values_list("revoked_reason", flat=True))
    assert reasons == {SSOSession.RevokedReason.PASSWORD_CHANGED}


def test_deactivating_users_revokes_their_sessions(
    admin_client, users, signed_in_bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/auth/user/", {"action": "deactivate", "_selected_action": [users["bob"].pk]}
        )
    assert response.status_code == 302
    users["bob"].refresh_from_db()
    assert users["bob"].is_active is False
    assert not SSOSession.objects.filter(user=users["bob"], revoked_at__isnull=True).exists()
    with pytest.raises(InvalidCredentials):
        credentials_authenticate(username="bob", password=PASSWORD)


def test_log_out_everywhere_revokes_every_session_and_is_audited(admin_client, users, signed_in_bob):
    response = admin_client.post(
        "/admin/auth/user/", {"action": "log_out_everywhere", "_selected_action": [users["bob"].pk]}
    )
    assert response.status_code == 302
    sessions = SSOSession.objects.filter(user=users["bob"])
    assert {s.revoked_reason for s in sessions} == {SSOSession.RevokedReason.LOGOUT_EVERYWHERE}
    assert set(AuditEvent.objects.filter(kind=AuditEvent.Kind.SESSION_REVOKED).values_list("sid", flat=True)) == {
        s.sid for s in sessions
    }


# ---- sessions, apps, keys, audit ----------------------------------------------------------------------


def test_staff_revoke_one_session(admin_client, signed_in_bob):
    target, other = signed_in_bob
    response = admin_client.post("/admin/issuer/ssosession/", {"action": "revoke", "_selected_action": [target.pk]})
    assert response.status_code == 302
    target.refresh_from_db()
    other.refresh_from_db()
    assert target.revoked_reason == SSOSession.RevokedReason.ADMIN and other.revoked_at is None
    assert target.sid in revoked_session_ids()


def test_staff_add_a_relying_app(admin_client, users):
    response = admin_client.post(
        "/admin/issuer/relyingapp/add/",
        form_data(
            admin_client,
            "/admin/issuer/relyingapp/add/",
            name="Invoices",
            audience="invoices",
            origin="https://invoices.example.com",
            users=[str(users["bob"].pk)],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert RelyingApp.objects.get(audience="invoices").origin == "https://invoices.example.com"
    assert "invoices" in user_audiences(user=users["bob"])


def test_signing_keys_are_for_superusers_and_never_show_private_material(admin_client, users):
    from issuer.signing import keys

    keys.active_signing_key()
    key = SigningKey.objects.get()
    page = admin_client.get("/admin/issuer/signingkey/").content.decode()
    assert key.kid in page
    detail = admin_client.get(f"/admin/issuer/signingkey/{key.pk}/change/").content.decode()
    for secret in ("PRIVATE KEY", "private_pem", key.private_pem_encrypted[40:80] or "-----"):
        assert secret not in page and secret not in detail

    staff = User.objects.create_user("sam", password=PASSWORD, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="issuer"))
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/issuer/signingkey/").status_code == 403
    assert client.get("/admin/issuer/auditevent/").status_code == 200, "other issuer pages are theirs"
    assert "signingkey" not in client.get("/admin/").content.decode()


def test_audit_events_are_read_only_and_filterable(admin_client, users):
    audit_record(kind=AuditEvent.Kind.LOGIN_FAILED, username="mallory", ip="203.0.113.9")
    session_start(user=users["bob"])
    event = AuditEvent.objects.get(username="mallory")

    failed = admin_client.get("/admin/issuer/auditevent/", {"kind__exact": "login_failed"}).content.decode()
    assert "mallory" in failed and ">bob<" not in failed
    assert "mallory" in admin_client.get("/admin/issuer/auditevent/", {"q": "203.0.113.9"}).content.decode()

    assert admin_client.get("/admin/issuer/auditevent/add/").status_code == 403
    detail = admin_client.get(f"/admin/issuer/auditevent/{event.pk}/change/").content.decode()
    assert 'name="_save"' not in detail
    admin_client.post(f"/admin/issuer/auditevent/{event.pk}/change/", {"username": "nobody", "kind": "logout"})
    admin_client.post(f"/admin/issuer/auditevent/{event.pk}/delete/", {"post": "yes"})
    event.refresh_from_db()
    assert event.username == "mallory"


# ---- actions need change permission (review finding: view-only staff could act) ------------------------


def test_view_only_staff_cannot_run_actions_that_change_anything(users, signed_in_bob):
    from issuer.models import ServiceClient

    viewer = User.objects.create_user("viola", password=PASSWORD, is_staff=True)
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=["view_user", "view_ssosession", "view_serviceclient"])
    )
    client = Client()
    client.force_login(viewer)
    service = ServiceClient.objects.create(client_id="reporting", name="Reporting", secret_hash="x")
    for url, action, pk in [
        ("/admin/auth/user/", "deactivate", users["alice"].pk),
        ("/admin/auth/user/", "log_out_everywhere", users["bob"].pk),
        ("/admin/issuer/ssosession/", "revoke", signed_in_bob[0].pk),
        ("/admin/issuer/serviceclient/", "new_secret", service.pk),
        ("/admin/issuer/serviceclient/", "deactivate", service.pk),
    ]:
        assert client.get(url).status_code == 200, url
        client.post(url, {"action": action, "_selected_action": [pk]})
    users["alice"].refresh_from_db()
    service.refresh_from_db()
    assert users["alice"].is_active
    assert not SSOSession.objects.filter(revoked_at__isnull=False).exists()
    assert service.is_active and service.secret_hash == "x"


def test_only_superusers_may_generate_a_service_client_secret(users):
    from issuer.models import ServiceClient

    staff = User.objects.create_user("sam", password=PASSWORD, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__in=["view_serviceclient", "change_serviceclient"]))
    client = Client()
    client.force_login(staff)
    service = ServiceClient.objects.create(client_id="reporting", name="Reporting", secret_hash="x")
    client.post("/admin/issuer/serviceclient/", {"action": "new_secret", "_selected_action": [service.pk]})
    service.refresh_from_db()
    assert service.secret_hash == "x"
    assert client.post("/admin/issuer/serviceclient/", {"action": "deactivate", "_selected_action": [service.pk]})
    service.refresh_from_db()
    assert service.is_active is False
