"""Passkeys (WebAuthn, through py_webauthn): registering one from the account page, and signing in with one,
as the second step after a password or on its own (passwordless: a discoverable credential that verifies the
user). The views in issuer/views/passkeys.py call these.

A ceremony's challenge is random, single use, good for CHALLENGE_SECONDS, and bound to the browser that asked
for it: the options answer sets a random value in an HttpOnly cookie, and only the digests of the challenge
and of that value are stored (issuer.models.WebAuthnChallenge). A challenge read from a database dump, or one
phished into another browser, is then of no use. The relying party id is SSO_ISSUER_URL's host and the only
origin accepted is SSO_ISSUER_URL itself, so an assertion made for a look-alike site is refused."""

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, IntegrityError, transaction
from django.utils.crypto import constant_time_compare, salted_hmac
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from .. import clock
from ..models import AuditEvent, WebAuthnChallenge, WebAuthnCredential
from . import throttles
from .audit import audit_record, log_safe

logger = logging.getLogger(__name__)

CHALLENGE_SECONDS = 120
RP_NAME = "Single sign-on"
THROTTLE_NAMESPACE = "passkey"
# Sign-in challenges one address may ask for in a window: far more than a person pressing the button.
CHALLENGES_PER_ADDRESS = 60
CHALLENGE_WINDOW_SECONDS = 60
MAX_NAME_LENGTH = 100
_KNOWN_TRANSPORTS = {transport.value for transport in AuthenticatorTransport}


class PasskeyRejected(Exception):
    """The ceremony failed: no such challenge (expired, used, another browser's), no such passkey, or a response
    that does not verify. `reason` is for logs and the audit trail, never for the person."""

    def __init__(self, reason: str, *, owner: AbstractBaseUser | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.owner = owner  # whose passkey it was, when the refusal knows (a clone): the audit names them


class PasskeyCloned(PasskeyRejected):
    """A correctly signed assertion whose sign counter did not increase: two authenticators hold this key."""


class PasskeyThrottled(Exception):
    """Too many failed assertions from this address; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class PasskeyAssertion:
    """A verified sign-in with a passkey: whose, which one, and the RFC 8176 values it proved."""

    user: AbstractBaseUser
    passkey: WebAuthnCredential
    amr: list[str]


def rp_id() -> str:
    return urlsplit(settings.SSO_ISSUER_URL).hostname or ""


def expected_origin() -> str:
    parts = urlsplit(settings.SSO_ISSUER_URL)
    return f"{parts.scheme}://{parts.netloc}"


def binding_new() -> str:
    """A fresh value for the browser's binding cookie."""
    return secrets.token_urlsafe(32)


def _digest(value: bytes | str) -> str:
    # Challenges and binding values are 256 random bits: a plain hash is as good as a keyed one here.
    raw = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(raw).hexdigest()


def user_handle(user: AbstractBaseUser, *, key: str | None = None) -> bytes:
    """The WebAuthn user handle: stable for a person, but neither their id nor their name (it is stored on the
    authenticator and returned to any site that asks it for this credential)."""
    return salted_hmac("issuer.passkey-user-handle", str(user.pk), secret=key, algorithm="sha256").digest()


def _handle_matches(handle: object, user: AbstractBaseUser) -> bool:
    """Whether a passwordless assertion's user handle is the passkey owner's, made under the secret key or one
    of its fallbacks (a key rotation must not strip everyone's passkeys of passwordless sign-in)."""
    if not isinstance(handle, str):
        return False
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return any(constant_time_compare(handle, bytes_to_base64url(user_handle(user, key=key))) for key in keys)


def _challenge_issue(*, purpose: str, user: AbstractBaseUser | None, binding: str) -> bytes:
    now = clock.now()
    WebAuthnChallenge.objects.filter(expires_at__lte=now).delete()
    challenge = secrets.token_bytes(32)
    WebAuthnChallenge.objects.create(
        challenge_digest=_digest(challenge),
        purpose=purpose,
        user=user,
        binding_digest=_digest(binding),
        expires_at=now + timedelta(seconds=CHALLENGE_SECONDS),
    )
    return challenge


def _challenge_spend(*, credential: dict, purpose: str, user: AbstractBaseUser | None, binding: str) -> bytes:
    """The challenge the response answers, spent: it must be live, unused, of this purpose, for this user (or
    for nobody, passwordless) and asked for by this browser. The update is one statement, so of two
    presentations exactly one spends it."""
    try:
        client_data = parse_client_data_json(base64url_to_bytes(credential["response"]["clientDataJSON"]))
    except (WebAuthnException, KeyError, TypeError, ValueError) as e:
        raise PasskeyRejected("malformed client data") from e
    challenge = client_data.challenge
    spent = WebAuthnChallenge.objects.filter(
        challenge_digest=_digest(challenge),
        purpose=purpose,
        user=user,
        binding_digest=_digest(binding),
        used_at__isnull=True,
        expires_at__gt=clock.now(),
    ).update(used_at=clock.now())
    if spent != 1:
        raise PasskeyRejected("unknown, expired, spent or another browser's challenge")
    return challenge


def _descriptors(user: AbstractBaseUser) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(passkey.credential_id),
            transports=[AuthenticatorTransport(name) for name in passkey.transports if name in _KNOWN_TRANSPORTS],
        )
        for passkey in WebAuthnCredential.objects.filter(user=user)
    ]


def registration_begin(*, user: AbstractBaseUser, binding: str) -> str:
    """The options (JSON) for navigator.credentials.create(): attestation "none" (the issuer trusts the person
    who is signed in, not an authenticator vendor), a resident key preferred so the passkey also signs in
    without a password, user verification required, and the person's passkeys excluded (no duplicates)."""
    challenge = _challenge_issue(purpose=WebAuthnChallenge.Purpose.REGISTER, user=user, binding=binding)
    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=RP_NAME,
        user_name=user.get_username(),
        user_id=user_handle(user),
        user_display_name=user.get_full_name() or user.get_username(),
        challenge=challenge,
        timeout=CHALLENGE_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.REQUIRED
        ),
        exclude_credentials=_descriptors(user),
    )
    as_dict = json.loads(options_to_json(options))
    # credProps tells whether the authenticator made a discoverable credential (one that can sign in alone).
    as_dict["extensions"] = {"credProps": True}
    return json.dumps(as_dict)


def registration_complete(
    *, user: AbstractBaseUser, credential: Any, binding: str, name: str, ip: str | None = None
) -> WebAuthnCredential:
    """Verify a new passkey (the answer to registration_begin's options) and keep it as the person's."""
    if not isinstance(credential, dict):
        raise PasskeyRejected("credential is not an object")
    challenge = _challenge_spend(
        credential=credential, purpose=WebAuthnChallenge.Purpose.REGISTER, user=user, binding=binding
    )
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=expected_origin(),
            require_user_verification=True,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as e:
        raise PasskeyRejected(f"registration does not verify: {type(e).__name__}") from e
    if WebAuthnCredential.objects.filter(credential_id=bytes_to_base64url(verified.credential_id)).exists():
        raise PasskeyRejected("credential already registered")
    try:
        with transaction.atomic():
            passkey = _passkey_create(user=user, credential=credential, verified=verified, name=name)
    except IntegrityError as e:  # the same credential registered meanwhile, by a concurrent request
        raise PasskeyRejected("credential already registered") from e
    audit_record(kind=AuditEvent.Kind.MFA_ENROLLED, user=user, ip=ip, detail=f"passkey id={passkey.pk}")
    return passkey


def _passkey_create(
    *, user: AbstractBaseUser, credential: dict, verified: VerifiedRegistration, name: str
) -> WebAuthnCredential:
    credential_id = bytes_to_base64url(verified.credential_id)
    response = credential.get("response") or {}
    transports = [transport for transport in response.get("transports") or [] if transport in _KNOWN_TRANSPORTS]
    cred_props = (credential.get("clientExtensionResults") or {}).get("credProps") or {}
    return WebAuthnCredential.objects.create(
        user=user,
        name=(name.strip() or "Passkey")[:MAX_NAME_LENGTH],
        credential_id=credential_id,
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        transports=transports,
        is_discoverable=cred_props.get("rk") is True,
        backed_up=verified.credential_backed_up,
    )


def _challenge_budget_spend(*, ip: str | None) -> None:
    """Count one sign-in challenge against the address's budget (PasskeyThrottled past it). The options
    endpoint answers anyone, and each answer is a row: a flood from one address stops here, not in the table."""
    if not ip:
        return
    try:
        count, ends = throttles.counter_increment(
            scope="passkey-challenge-ip", identity=ip, window_seconds=CHALLENGE_WINDOW_SECONDS
        )
    except DatabaseError as e:
        logger.error("auth event=throttle_store_unavailable namespace=passkey error=%s", type(e).__name__)
        raise PasskeyThrottled(throttles.STORE_UNAVAILABLE_RETRY_SECONDS) from e
    if count > CHALLENGES_PER_ADDRESS:
        raise PasskeyThrottled(max(1, int((ends - clock.now()).total_seconds())))


def authentication_begin(
    *, user: AbstractBaseUser | None, binding: str, verify_user: bool = False, ip: str | None = None
) -> str:
    """The options (JSON) for navigator.credentials.get(). For a second step (`user`: the person whose
    password was just checked) they list that person's passkeys; passwordless, none (the browser offers its
    discoverable credentials for this site) and the authenticator must verify the user: a passkey alone then
    stands for two factors, something held and something known or been. `verify_user` asks that of a
    second step too, when nothing else was proved (a step-up of a sign-in too old to count)."""
    _challenge_budget_spend(ip=ip)
    challenge = _challenge_issue(purpose=WebAuthnChallenge.Purpose.AUTHENTICATE, user=user, binding=binding)
    options = generate_authentication_options(
        rp_id=rp_id(),
        challenge=challenge,
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=_descriptors(user) if user is not None else [],
        user_verification=(
            UserVerificationRequirement.REQUIRED
            if user is None or verify_user
            else UserVerificationRequirement.PREFERRED
        ),
    )
    return options_to_json(options)


def passkey_amr(*, attachment: str | None, user_verified: bool) -> list[str]:
    """RFC 8176 values for a passkey assertion: "hwk" for a roaming (cross-platform) authenticator, a security
    key whose private key stays in its hardware; "swk" for a platform one (built into the device, often synced
    between devices by its vendor, so not provably hardware-bound); and "user" when it verified the user."""
    amr = ["hwk" if attachment == "cross-platform" else "swk"]
    if user_verified:
        amr.append("user")
    return amr


def authentication_complete(
    *, credential: Any, binding: str, user: AbstractBaseUser | None, ip: str | None = None, verify_user: bool = False
) -> PasskeyAssertion:
    """Verify a passkey assertion (the answer to authentication_begin's options): for `user`'s passkeys as a
    second step, or any active person's discoverable one with user verification (passwordless, `user` None).

    Failed assertions are counted per address before anything is checked, like passwords; a success takes
    its attempt back. The sign counter must go up (or stay 0 for authenticators that keep none); a correctly
    signed assertion with a lower or equal counter means a cloned authenticator, which is refused and audited."""
    retry_after = throttles.attempt_begin(username=None, ip=ip, namespace=THROTTLE_NAMESPACE)
    if retry_after is not None:
        raise PasskeyThrottled(retry_after)
    try:
        assertion = _assertion_verify(
            credential=credential, binding=binding, user=user, ip=ip, verify_user=verify_user or user is None
        )
    except PasskeyRejected as e:
        logger.info("auth event=passkey_refused reason=%s ip=%s", e.reason, ip or "-")
        audit_record(kind=AuditEvent.Kind.MFA_FAILED, user=e.owner or user, ip=ip, detail=f"passkey: {e.reason}")
        raise
    throttles.attempt_succeeded(username=None, ip=ip, namespace=THROTTLE_NAMESPACE)
    audit_record(
        kind=AuditEvent.Kind.MFA_SUCCEEDED,
        user=assertion.user,
        ip=ip,
        detail=f"passkey id={assertion.passkey.pk} amr={','.join(assertion.amr)}",
    )
    return assertion


def _assertion_verify(
    *, credential: Any, binding: str, user: AbstractBaseUser | None, ip: str | None, verify_user: bool
) -> PasskeyAssertion:
    if not isinstance(credential, dict) or not isinstance(credential.get("id"), str):
        raise PasskeyRejected("credential is not an object with an id")
    challenge = _challenge_spend(
        credential=credential, purpose=WebAuthnChallenge.Purpose.AUTHENTICATE, user=user, binding=binding
    )
    passkeys = WebAuthnCredential.objects.select_related("user").filter(credential_id=credential["id"])
    if user is not None:
        passkeys = passkeys.filter(user=user)
    passkey = passkeys.first()
    if passkey is None or not passkey.user.is_active:
        raise PasskeyRejected("unknown passkey or inactive user")
    handle = (credential.get("response") or {}).get("userHandle")
    if user is None and not _handle_matches(handle, passkey.user):
        raise PasskeyRejected("user handle does not match the passkey's owner")
    try:
        # The stored counter is not handed to py_webauthn, which would refuse a non-increasing one before
        # checking the signature: only a correctly signed assertion is evidence of a clone (checked below).
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=expected_origin(),
            credential_public_key=base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=0,
            require_user_verification=verify_user,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as e:
        raise PasskeyRejected(f"assertion does not verify: {type(e).__name__}") from e
    with transaction.atomic():
        passkey = WebAuthnCredential.objects.select_for_update().select_related("user").get(pk=passkey.pk)
        stored, presented = passkey.sign_count, verified.new_sign_count
        if (stored > 0 or presented > 0) and presented <= stored:
            logger.warning(
                "auth event=passkey_possible_clone user=%s passkey=%d stored=%d presented=%d ip=%s",
                log_safe(passkey.user.get_username()),
                passkey.pk,
                stored,
                presented,
                ip or "-",
            )
            raise PasskeyCloned(
                f"possible cloned authenticator: counter {presented} after {stored}", owner=passkey.user
            )
        passkey.sign_count = presented
        passkey.backed_up = verified.credential_backed_up
        passkey.last_used_at = clock.now()
        passkey.save(update_fields=["sign_count", "backed_up", "last_used_at"])
    attachment = credential.get("authenticatorAttachment")
    return PasskeyAssertion(
        user=passkey.user,
        passkey=passkey,
        amr=passkey_amr(attachment=attachment, user_verified=verified.user_verified),
    )


def passkey_remove(*, passkey: WebAuthnCredential, ip: str | None = None) -> None:
    """Remove one of a person's passkeys (the account page checked that it is theirs and that they re-authenticated)."""
    passkey.delete()
    audit_record(kind=AuditEvent.Kind.MFA_REMOVED, user=passkey.user, ip=ip, detail=f"passkey={passkey.name[:100]}")
