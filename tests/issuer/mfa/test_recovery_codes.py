"""Recovery codes: ten, shown once, keyed digests, each good once, a new set voids the old."""

import pytest

from issuer.models import AuditEvent, RecoveryCode
from issuer.services import recovery_codes
from issuer.services.totp import CodeRefused, CodeThrottled

pytestmark = pytest.mark.django_db


def test_ten_codes_are_made_and_only_digests_kept(users):
    codes = recovery_codes.recovery_codes_generate(user=users["bob"])
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = list(RecoveryCode.objects.filter(user=users["bob"]).values_list("code_digest", flat=True))
    assert len(stored) == 10
    assert not any(code.replace("-", "") in digest for code in codes for digest in stored)
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.RECOVERY_CODES_GENERATED, user=users["bob"]).exists()


def test_a_code_works_once(users):
    codes = recovery_codes.recovery_codes_generate(user=users["bob"])
    recovery_codes.recovery_code_use(user=users["bob"], code=codes[3])
    assert recovery_codes.recovery_codes_remaining(users["bob"]) == 9
    with pytest.raises(CodeRefused):
        recovery_codes.recovery_code_use(user=users["bob"], code=codes[3])
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.RECOVERY_CODE_USED, user=users["bob"]).count() == 1


def test_case_spaces_and_hyphens_do_not_matter(users):
    codes = recovery_codes.recovery_codes_generate(user=users["bob"])
    recovery_codes.recovery_code_use(user=users["bob"], code=f"  {codes[0].upper().replace('-', ' ')} ")


def test_a_code_is_one_person_s_only(users):
    codes = recovery_codes.recovery_codes_generate(user=users["bob"])
    with pytest.raises(CodeRefused):
        recovery_codes.recovery_code_use(user=users["carol"], code=codes[0])


def test_a_new_set_voids_the_old(users):
    old = recovery_codes.recovery_codes_generate(user=users["bob"])
    new = recovery_codes.recovery_codes_generate(user=users["bob"])
    with pytest.raises(CodeRefused):
        recovery_codes.recovery_code_use(user=users["bob"], code=old[0])
    recovery_codes.recovery_code_use(user=users["bob"], code=new[0])


def test_a_code_made_under_a_previous_secret_key_still_works(users, settings):
    codes = recovery_codes.recovery_codes_generate(user=users["bob"])
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-for-this-test-only-0123456789"
    recovery_codes.recovery_code_use(user=users["bob"], code=codes[0])


def test_guesses_are_throttled_before_checking(users, settings):
    codes = recovery_codes.recovery_codes_generate(user=users["bob"])
    for _ in range(settings.SSO_LOGIN_THROTTLE["FAILURES_PER_USERNAME"]):
        with pytest.raises(CodeRefused):
            recovery_codes.recovery_code_use(user=users["bob"], code="aaaaa-aaaaa")
    with pytest.raises(CodeThrottled):
        recovery_codes.recovery_code_use(user=users["bob"], code=codes[0])
    assert recovery_codes.recovery_codes_remaining(users["bob"]) == 10
