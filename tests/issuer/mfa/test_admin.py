"""The admin and second factors: a user's factors on their page (never a secret), the reset action (superuser
or issuer.reset_second_factors; audited; revokes the sessions), group and app MFA policies."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from issuer.models import AuditEvent, GroupMFAPolicy, RecoveryCode, SSOSession, TOTPDevice, WebAuthnCredential
from issuer.services import recovery_codes, totp
from issuer.services.sessions import session_start

from ..test_admin import form_data
from .conftest import SECRET, enrol

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob_with_factors(users):
    bob = users["bob"]
    enrol(bob, name="Bob's phone")
    WebAuthnCredential.objects.create(user=bob, name="Bob's key", credential_id="AQID", public_key="pQECAyYgAQ")
    recovery_codes.recovery_codes_generate(user=bob)
    session_start(user=bob)
    return bob


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def reset(client: Client, user):
    return client.post("/admin/auth/user/", {"action": "reset_second_factors", "_selected_action": [user.pk]})


def test_the_user_page_lists_factors_without_secrets(users, bob_with_factors):
    page = staff_client(users["alice"]).get(f"/admin/auth/user/{bob_with_factors.pk}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "Bob&#x27;s phone" in content and "Bob&#x27;s key" in content
    device = TOTPDevice.objects.get(user=bob_with_factors)
    assert SECRET not in content and device.secret_encrypted not in content and "pQECAyYgAQ" not in content
    assert totp.secret_decrypt(device.secret_encrypted) == SECRET


def test_a_superuser_resets_second_factors_audited_and_sessions_revoked(users, bob_with_factors):
    response = reset(staff_client(users["alice"]), bob_with_factors)
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=bob_with_factors).exists()
    assert not WebAuthnCredential.objects.filter(user=bob_with_factors).exists()
    assert not RecoveryCode.objects.filter(user=bob_with_factors).exists()
    assert not SSOSession.objects.filter(user=bob_with_factors, revoked_at__isnull=True).exists()
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.MFA_RESET, user=bob_with_factors)
    assert "by=alice" in event.detail


def test_staff_without_the_permission_cannot_reset(users, bob_with_factors):
    carol = users["carol"]
    carol.is_staff = True
    carol.save()
    carol.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client = staff_client(carol)
    assert b"reset_second_factors" not in client.get("/admin/auth/user/").content  # not offered
    reset(client, bob_with_factors)
    assert TOTPDevice.objects.filter(user=bob_with_factors).exists()


def test_staff_with_the_permission_can_reset(users, bob_with_factors):
    carol = users["carol"]
    carol.is_staff = True
    carol.save()
    codenames = ["view_user", "change_user", "reset_second_factors"]
    carol.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    reset(staff_client(carol), bob_with_factors)
    assert not TOTPDevice.objects.filter(user=bob_with_factors).exists()


def test_a_group_s_mfa_policy_is_set_on_the_group_page(users):
    group = Group.objects.get(name="catalog_manager")
    client = staff_client(users["alice"])
    url = f"/admin/auth/group/{group.pk}/change/"
    assert b"MFA policy" in client.get(url).content
    client.post(url, form_data(client, url))  # saved unchanged: no policy appears
    assert not GroupMFAPolicy.objects.filter(group=group).exists()
    response = client.post(url, form_data(client, url, **{"mfa_policy-0-mfa_required": "on"}))
    assert response.status_code == 302
    assert GroupMFAPolicy.objects.get(group=group).mfa_required


def test_an_app_s_mfa_required_is_on_the_app_page(users, apps):
    page = staff_client(users["alice"]).get(f"/admin/issuer/relyingapp/{apps['orders'].pk}/change/")
    assert b'name="mfa_required"' in page.content
