"""Who must use a second factor (mfa_required_for) and who has one (user_has_second_factor)."""

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from issuer.models import GroupMFAPolicy, TOTPDevice, WebAuthnCredential
from issuer.services import mfa

from .conftest import enrol

pytestmark = pytest.mark.django_db


def test_an_app_s_policy_concerns_that_app(users, apps):
    apps["orders"].mfa_required = True
    apps["orders"].save()
    assert mfa.mfa_required_for(users["bob"], apps["orders"])
    assert not mfa.mfa_required_for(users["bob"], apps["products"])
    assert not mfa.mfa_required_for(users["bob"])


def test_a_group_s_policy_concerns_every_app(users, apps):
    GroupMFAPolicy.objects.create(group=Group.objects.get(name="catalog_manager"))
    assert mfa.mfa_required_for(users["carol"]) and mfa.mfa_required_for(users["carol"], apps["products"])
    assert not mfa.mfa_required_for(users["bob"], apps["products"])


def test_a_group_policy_switched_off_requires_nothing(users, apps):
    GroupMFAPolicy.objects.create(group=Group.objects.get(name="catalog_manager"), mfa_required=False)
    assert not mfa.mfa_required_for(users["carol"], apps["products"])


def test_the_staff_setting_concerns_staff_only(users, settings):
    assert not mfa.mfa_required_for(users["alice"])
    settings.SSO_MFA_REQUIRED_FOR_STAFF = True
    assert mfa.mfa_required_for(users["alice"]) and not mfa.mfa_required_for(users["bob"])


def test_a_second_factor_is_a_confirmed_app_or_a_passkey(users):
    assert not mfa.user_has_second_factor(users["bob"])
    device = TOTPDevice.objects.create(user=users["bob"], name="unconfirmed", secret_encrypted="x")
    assert not mfa.user_has_second_factor(users["bob"])
    device.confirmed_at = timezone.now()
    device.save()
    assert mfa.user_has_second_factor(users["bob"])
    WebAuthnCredential.objects.create(user=users["carol"], name="key", credential_id="AQ", public_key="AQ")
    assert mfa.user_has_second_factor(users["carol"])
    assert enrol(users["alice"]) and mfa.user_has_second_factor(users["alice"])
