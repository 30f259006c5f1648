"""The passkey ceremonies in issuer.services.passkeys against real py_webauthn verification, with responses a
software authenticator signs: registration, a second step and passwordless sign-in, and each refusal (a
challenge reused, expired, from another browser or for someone else; another origin; no user verification
where it is required; a counter gone back, audited as a possible clone; a constant 0 allowed; the throttle)."""

import json
from datetime import timedelta
from unittest import mock

import pytest

from issuer import clock
from issuer.models import AuditEvent, WebAuthnChallenge, WebAuthnCredential
from issuer.services import passkeys

from .authenticator import SoftAuthenticator

BINDING = "b" * 43
OTHER_BROWSER = "o" * 43
IP = "192.0.2.7"


@pytest.fixture
def authenticator():
    return SoftAuthenticator(rp_id=passkeys.rp_id(), origin=passkeys.expected_origin())


def register(user, authenticator, *, binding=BINDING, **create) -> WebAuthnCredential:
    options = json.loads(passkeys.registration_begin(user=user, binding=binding))
    credential = authenticator.create(options, **create)
    return passkeys.registration_complete(user=user, credential=credential, binding=binding, name="Laptop", ip=IP)


def sign_in(user, authenticator, *, binding=BINDING, **get) -> passkeys.PasskeyAssertion:
    options = json.loads(passkeys.authentication_begin(user=user, binding=binding))
    credential = authenticator.get(options, **get)
    return passkeys.authentication_complete(credential=credential, binding=binding, user=user, ip=IP)


def test_registration_options_follow_the_policy(users):
    options = json.loads(passkeys.registration_begin(user=users["bob"], binding=BINDING))
    assert options["rp"]["id"] == passkeys.rp_id() == "localhost"
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["extensions"] == {"credProps": True}
    assert options["user"]["name"] == "bob"
    assert str(users["bob"].pk) not in options["user"]["id"], "the user handle is not the user id"
    (challenge,) = WebAuthnChallenge.objects.all()
    assert options["challenge"] not in challenge.challenge_digest and len(challenge.challenge_digest) == 64
    assert BINDING not in challenge.binding_digest
    assert challenge.expires_at - clock.now() <= timedelta(seconds=120)


def test_register_then_second_step_and_passwordless(users, authenticator):
    bob = users["bob"]
    passkey = register(bob, authenticator)
    assert passkey.is_discoverable and passkey.transports == ["internal"] and passkey.name == "Laptop"
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.MFA_ENROLLED, user=bob).exists()
    options = json.loads(passkeys.registration_begin(user=bob, binding=BINDING))
    assert [item["id"] for item in options["excludeCredentials"]] == [authenticator.id]

    second_step = sign_in(bob, authenticator)
    assert second_step.user == bob and second_step.amr == ["swk", "user"]
    passwordless = sign_in(None, authenticator)
    assert passwordless.user == bob
    passkey.refresh_from_db()
    assert passkey.sign_count == 2 and passkey.last_used_at is not None
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.MFA_SUCCEEDED, user=bob).count() == 2


def test_second_step_options_list_only_the_pending_persons_passkeys(users, authenticator):
    register(users["bob"], authenticator)
    register(users["carol"], SoftAuthenticator(rp_id=passkeys.rp_id(), origin=passkeys.expected_origin()))
    options = json.loads(passkeys.authentication_begin(user=users["bob"], binding=BINDING))
    assert [item["id"] for item in options["allowCredentials"]] == [authenticator.id]
    assert options["userVerification"] == "preferred"
    passwordless = json.loads(passkeys.authentication_begin(user=None, binding=BINDING))
    assert passwordless["allowCredentials"] == [] and passwordless["userVerification"] == "required"


def test_a_roaming_authenticator_is_hardware_and_one_without_user_verification_is_not_user(users):
    key = SoftAuthenticator(rp_id=passkeys.rp_id(), origin=passkeys.expected_origin(), attachment="cross-platform")
    register(users["bob"], key)
    key.user_verifying = False
    assert sign_in(users["bob"], key).amr == ["hwk"]


def test_passwordless_survives_a_secret_key_rotation(users, authenticator, settings):
    register(users["bob"], authenticator)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a new secret key for this test, long enough to be a real one: 0123456789"
    assert sign_in(None, authenticator).user == users["bob"]


def test_passwordless_refuses_another_persons_user_handle(users, authenticator):
    register(users["bob"], authenticator)
    authenticator.user_handle = passkeys.user_handle(users["carol"])
    with pytest.raises(passkeys.PasskeyRejected, match="user handle"):
        sign_in(None, authenticator)


def test_passwordless_requires_user_verification(users, authenticator):
    register(users["bob"], authenticator)
    authenticator.user_verifying = False
    with pytest.raises(passkeys.PasskeyRejected):
        sign_in(None, authenticator)


def test_registration_requires_user_verification(users, authenticator):
    authenticator.user_verifying = False
    with pytest.raises(passkeys.PasskeyRejected):
        register(users["bob"], authenticator)
    assert not WebAuthnCredential.objects.exists()


def test_another_persons_passkey_is_no_second_step(users, authenticator):
    register(users["carol"], authenticator)
    with pytest.raises(passkeys.PasskeyRejected, match="unknown passkey"):
        sign_in(users["bob"], authenticator)
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.MFA_FAILED, user=users["bob"]).exists()


def test_another_origin_is_refused(users, authenticator):
    register(users["bob"], authenticator)
    with pytest.raises(passkeys.PasskeyRejected, match="does not verify"):
        sign_in(users["bob"], authenticator, origin="http://localhost.evil.test:8000")


def test_a_challenge_is_single_use(users, authenticator):
    register(users["bob"], authenticator)
    options = json.loads(passkeys.authentication_begin(user=None, binding=BINDING))
    credential = authenticator.get(options)
    passkeys.authentication_complete(credential=credential, binding=BINDING, user=None, ip=IP)
    with pytest.raises(passkeys.PasskeyRejected, match="spent"):
        passkeys.authentication_complete(credential=credential, binding=BINDING, user=None, ip=IP)


def test_a_challenge_lives_two_minutes(users, authenticator):
    register(users["bob"], authenticator)
    options = json.loads(passkeys.authentication_begin(user=None, binding=BINDING))
    credential = authenticator.get(options)
    later = clock.now() + timedelta(seconds=121)
    with mock.patch.object(clock, "now", return_value=later), pytest.raises(passkeys.PasskeyRejected):
        passkeys.authentication_complete(credential=credential, binding=BINDING, user=None, ip=IP)


def test_a_challenge_is_bound_to_the_browser_that_asked(users, authenticator):
    register(users["bob"], authenticator)
    options = json.loads(passkeys.authentication_begin(user=None, binding=BINDING))
    credential = authenticator.get(options)
    with pytest.raises(passkeys.PasskeyRejected):
        passkeys.authentication_complete(credential=credential, binding=OTHER_BROWSER, user=None, ip=IP)


def test_a_registration_challenge_does_not_sign_in(users, authenticator):
    register(users["bob"], authenticator)
    options = json.loads(passkeys.registration_begin(user=users["bob"], binding=BINDING))
    with pytest.raises(passkeys.PasskeyRejected):
        passkeys.authentication_complete(
            credential=authenticator.get(options), binding=BINDING, user=users["bob"], ip=IP
        )


def test_a_counter_gone_back_is_a_clone_refused_and_audited(users, authenticator):
    passkey = register(users["bob"], authenticator)
    sign_in(users["bob"], authenticator, count=5)
    with pytest.raises(passkeys.PasskeyCloned):
        sign_in(users["bob"], authenticator, count=3)
    with pytest.raises(passkeys.PasskeyCloned):
        sign_in(users["bob"], authenticator, count=5)
    passkey.refresh_from_db()
    assert passkey.sign_count == 5
    failed = AuditEvent.objects.filter(kind=AuditEvent.Kind.MFA_FAILED, user=users["bob"]).first()
    assert "possible cloned authenticator" in failed.detail
    assert sign_in(users["bob"], authenticator, count=6).user == users["bob"]


def test_a_clone_used_passwordless_is_audited_against_the_passkeys_owner(users, authenticator):
    register(users["bob"], authenticator)
    sign_in(None, authenticator, count=4)
    with pytest.raises(passkeys.PasskeyCloned):
        sign_in(None, authenticator, count=1)
    failed = AuditEvent.objects.get(kind=AuditEvent.Kind.MFA_FAILED)
    assert failed.user == users["bob"] and "possible cloned authenticator" in failed.detail


def test_a_counter_that_stays_zero_is_allowed(users, authenticator):
    register(users["bob"], authenticator)
    for _ in range(2):
        assert sign_in(users["bob"], authenticator, count=0).user == users["bob"]


def test_a_forged_signature_is_refused(users, authenticator):
    register(users["bob"], authenticator)
    options = json.loads(passkeys.authentication_begin(user=None, binding=BINDING))
    credential = authenticator.get(options)
    credential["response"]["signature"] = credential["response"]["signature"][:-4] + "AAAA"
    with pytest.raises(passkeys.PasskeyRejected, match="does not verify"):
        passkeys.authentication_complete(credential=credential, binding=BINDING, user=None, ip=IP)


@pytest.mark.parametrize(
    "credential",
    [None, "text", [], {}, {"id": 3}, {"id": "x", "response": "no"}, {"id": "x", "response": {"clientDataJSON": "%%"}}],
)
def test_malformed_answers_are_refused_cleanly(users, credential):
    with pytest.raises(passkeys.PasskeyRejected):
        passkeys.authentication_complete(credential=credential, binding=BINDING, user=None, ip=IP)
    with pytest.raises(passkeys.PasskeyRejected):
        passkeys.registration_complete(user=users["bob"], credential=credential, binding=BINDING, name="", ip=IP)


def test_failed_assertions_are_throttled_per_address(users, settings):
    settings.SSO_LOGIN_THROTTLE = {**settings.SSO_LOGIN_THROTTLE, "FAILURES_PER_IP": 3}
    for _ in range(3):
        with pytest.raises(passkeys.PasskeyRejected):
            passkeys.authentication_complete(credential={}, binding=BINDING, user=None, ip=IP)
    with pytest.raises(passkeys.PasskeyThrottled):
        passkeys.authentication_complete(credential={}, binding=BINDING, user=None, ip=IP)
    with pytest.raises(passkeys.PasskeyRejected):
        passkeys.authentication_complete(credential={}, binding=BINDING, user=None, ip="192.0.2.8")
