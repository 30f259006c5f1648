"""Authenticator apps: enrolment, the secret at rest, a code accepted once, the window, throttling first."""

import threading

import pytest
from cryptography.fernet import InvalidToken
from django.db import connection

from issuer.models import AuditEvent, TOTPDevice
from issuer.services import totp

from .conftest import SECRET, code_at, enrol

pytestmark = pytest.mark.django_db


def test_enrolment_makes_a_secret_a_qr_code_and_waits_for_a_code(users, moved_clock):
    enrolment = totp.totp_enrol_begin(user=users["bob"], name="Work phone")
    assert enrolment.uri.startswith("otpauth://totp/") and f"secret={enrolment.secret}" in enrolment.uri
    assert enrolment.qr_svg.startswith("<svg") and "<script" not in enrolment.qr_svg
    device = TOTPDevice.objects.get(pk=enrolment.device.pk)
    assert device.confirmed_at is None
    assert enrolment.secret not in device.secret_encrypted  # encrypted at rest
    with pytest.raises(totp.CodeRefused):
        totp.totp_verify(user=users["bob"], code=code_at(moved_clock.now, secret=enrolment.secret))  # unconfirmed
    totp.totp_enrol_confirm(device=device, code=code_at(moved_clock.now, secret=enrolment.secret))
    device.refresh_from_db()
    assert device.confirmed_at is not None
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.MFA_ENROLLED, user=users["bob"]).exists()


def test_a_new_enrolment_replaces_an_unconfirmed_one(users):
    first = totp.totp_enrol_begin(user=users["bob"])
    second = totp.totp_enrol_begin(user=users["bob"])
    assert list(TOTPDevice.objects.filter(user=users["bob"])) == [second.device]
    assert first.secret != second.secret


def test_a_wrong_confirmation_code_leaves_the_app_unconfirmed(users, moved_clock):
    enrolment = totp.totp_enrol_begin(user=users["bob"])
    with pytest.raises(totp.CodeRefused):
        totp.totp_enrol_confirm(device=enrolment.device, code="000000" if enrolment.secret else "")
    assert TOTPDevice.objects.get(pk=enrolment.device.pk).confirmed_at is None


def test_the_secret_is_encrypted_with_the_configured_key(settings, users):
    settings.SSO_MFA_ENCRYPTION_KEY = "q9bZ4bJ2S7Z0n7Gx4XQm5r9b2aK1fP3vW8yL6tH0cE4="
    device = enrol(users["bob"])
    assert totp.secret_decrypt(device.secret_encrypted) == SECRET
    settings.SSO_MFA_ENCRYPTION_KEY = ""  # the dev key, derived from SECRET_KEY: another key
    with pytest.raises(InvalidToken):
        totp.secret_decrypt(device.secret_encrypted)


def test_a_code_is_accepted_once(users, moved_clock):
    enrol(users["bob"])
    code = code_at(moved_clock.now)
    totp.totp_verify(user=users["bob"], code=code)
    with pytest.raises(totp.CodeRefused):
        totp.totp_verify(user=users["bob"], code=code)
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.MFA_FAILED, user=users["bob"]).count() == 1


def test_an_earlier_code_is_refused_after_a_later_one(users, moved_clock):
    enrol(users["bob"])
    earlier = code_at(moved_clock.now, offset_steps=-1)
    totp.totp_verify(user=users["bob"], code=code_at(moved_clock.now))
    with pytest.raises(totp.CodeRefused):
        totp.totp_verify(user=users["bob"], code=earlier)  # within the window, but at or before the last step


def test_one_step_either_side_is_accepted_and_two_are_not(users, moved_clock):
    enrol(users["bob"])
    with pytest.raises(totp.CodeRefused):
        totp.totp_verify(user=users["bob"], code=code_at(moved_clock.now, offset_steps=-2))
    with pytest.raises(totp.CodeRefused):
        totp.totp_verify(user=users["bob"], code=code_at(moved_clock.now, offset_steps=2))
    totp.totp_verify(user=users["bob"], code=code_at(moved_clock.now, offset_steps=-1))
    totp.totp_verify(user=users["bob"], code=code_at(moved_clock.now, offset_steps=1))


def test_the_next_step_s_code_works_after_time_moves_on(users, moved_clock):
    enrol(users["bob"])
    totp.totp_verify(user=users["bob"], code=code_at(moved_clock.now))
    moved_clock.advance(30)
    totp.totp_verify(user=users["bob"], code=code_at(moved_clock.now))
    moved_clock.advance(300)
    with pytest.raises(totp.CodeRefused):
        totp.totp_verify(user=users["bob"], code=code_at(moved_clock.now, offset_steps=-10))  # expired


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x", "١٢٣٤٥٦"])
def test_malformed_codes_are_refused(users, moved_clock, code):
    enrol(users["bob"])
    with pytest.raises(totp.CodeRefused):
        totp.totp_verify(user=users["bob"], code=code)


def test_spaces_in_a_code_are_ignored(users, moved_clock):
    enrol(users["bob"])
    code = code_at(moved_clock.now)
    totp.totp_verify(user=users["bob"], code=f"{code[:3]} {code[3:]}")


def test_guesses_are_throttled_before_the_code_is_checked(users, moved_clock, settings):
    enrol(users["bob"])
    limit = settings.SSO_LOGIN_THROTTLE["FAILURES_PER_USERNAME"]
    for _ in range(limit):
        with pytest.raises(totp.CodeRefused):
            totp.totp_verify(user=users["bob"], code="000000" if code_at(moved_clock.now) != "000000" else "111111")
    with pytest.raises(totp.CodeThrottled) as refused:
        totp.totp_verify(user=users["bob"], code=code_at(moved_clock.now))  # right, but not even checked
    assert refused.value.retry_after > 0
    assert TOTPDevice.objects.get(user=users["bob"]).last_used_step is None
    moved_clock.advance(settings.SSO_LOGIN_THROTTLE["WINDOW_SECONDS"] + 1)
    totp.totp_verify(user=users["bob"], code=code_at(moved_clock.now))


def test_guesses_from_one_address_are_throttled_across_accounts(users, moved_clock, settings):
    settings.SSO_LOGIN_THROTTLE = {**settings.SSO_LOGIN_THROTTLE, "FAILURES_PER_IP": 3}
    for name in ("alice", "bob", "carol"):
        enrol(users[name])
        with pytest.raises(totp.CodeRefused):
            totp.totp_verify(
                user=users[name], code="000000" if code_at(moved_clock.now) != "000000" else "1" * 6, ip="203.0.113.9"
            )
    with pytest.raises(totp.CodeThrottled):
        totp.totp_verify(user=users["bob"], code=code_at(moved_clock.now), ip="203.0.113.9")


def test_removing_an_app_is_audited(users):
    device = enrol(users["bob"])
    totp.totp_remove(device=device)
    assert not TOTPDevice.objects.filter(user=users["bob"]).exists()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.MFA_REMOVED, user=users["bob"]).exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_uses_of_one_code_pass_once(users, moved_clock):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(("file:memorydb", ":memory:")):
        pytest.skip(
            "concurrent connections need a database file or PostgreSQL (the in-memory test database is one connection)"
        )
    enrol(users["bob"])
    code = code_at(moved_clock.now)
    results: list[str] = []
    barrier = threading.Barrier(2)

    def use() -> None:
        barrier.wait()
        try:
            totp.totp_verify(user=users["bob"], code=code)
            results.append("ok")
        except totp.CodeRefused:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok", "refused"]


def test_the_conditional_update_refuses_a_step_already_stored(users, moved_clock):
    # The race above, in one connection: a second use whose read saw the old step still loses at the UPDATE.
    device = enrol(users["bob"])
    stale = TOTPDevice.objects.get(pk=device.pk)
    code = code_at(moved_clock.now)
    assert totp._code_use(device, code)
    assert not totp._code_use(stale, code)
