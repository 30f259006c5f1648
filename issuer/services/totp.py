"""Authenticator apps (TOTP, RFC 6238, through pyotp): enrolment with a QR code made here (segno, inline SVG),
secrets encrypted at rest, and codes accepted once each, guesses throttled like passwords.

The secret is encrypted with Fernet (AES-128-CBC and HMAC-SHA256) under SSO_MFA_ENCRYPTION_KEY; in dev, where
that is unset, the key is derived from SECRET_KEY with HKDF-SHA256, so a leaked database alone yields no secret.
A code is accepted for the current 30-second step and one on either side (clocks drift); its step is then
stored by a conditional UPDATE (`last_used_step < step`), so a code, or any code from an earlier step, is
refused afterwards, and of two concurrent uses of one code exactly one passes."""

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from pyotp.utils import strings_equal

from .. import clock
from ..models import AuditEvent, TOTPDevice
from . import throttles
from .audit import audit_record
from .errors import SignOnError

logger = logging.getLogger(__name__)

VALID_WINDOW = 1
DIGITS = 6
THROTTLE_NAMESPACE = "mfa"
HKDF_INFO = b"issuer.totp-secret-encryption"


class CodeRefused(SignOnError):
    """A wrong, malformed, expired or already used second-factor code."""


class CodeThrottled(SignOnError):
    """Too many second-factor guesses for this account or from this address; wait `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def factor_attempt(*, user: AbstractBaseUser, ip: str | None, factor: str, check: Callable[[], bool]) -> None:
    """Run one second-factor guess under the throttles: counted per account and per address before `check`
    runs (like passwords, issuer.services.throttles), refused with CodeThrottled past either budget, audited
    and refused with CodeRefused when `check` says no."""
    retry_after = throttles.attempt_begin(username=user.get_username(), ip=ip, namespace=THROTTLE_NAMESPACE)
    if retry_after is not None:
        raise CodeThrottled(retry_after)
    if not check():
        audit_record(kind=AuditEvent.Kind.MFA_FAILED, user=user, ip=ip, detail=f"factor={factor}")
        raise CodeRefused
    throttles.attempt_succeeded(username=user.get_username(), ip=ip, namespace=THROTTLE_NAMESPACE)


def _fernet() -> Fernet:
    key = settings.SSO_MFA_ENCRYPTION_KEY
    if not key:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
            settings.SECRET_KEY.encode()
        )
        key = base64.urlsafe_b64encode(derived)
    return Fernet(key)


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret (to type in), its otpauth URI and that URI as a QR code."""

    device: TOTPDevice
    secret: str
    uri: str
    qr_svg: str


def totp_enrolment(device: TOTPDevice) -> Enrolment:
    """The enrolment of an unconfirmed device, to show (again)."""
    secret = secret_decrypt(device.secret_encrypted)
    issuer_name = urlsplit(settings.SSO_ISSUER_URL).hostname or "sso"
    uri = pyotp.TOTP(secret).provisioning_uri(name=device.user.get_username(), issuer_name=issuer_name)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=4, title="Authenticator app QR code")
    return Enrolment(device=device, secret=secret, uri=uri, qr_svg=qr_svg)


def totp_enrol_begin(*, user: AbstractBaseUser, name: str = "Authenticator app") -> Enrolment:
    """A new, unconfirmed authenticator app with a fresh 160-bit secret; any earlier unconfirmed one goes."""
    TOTPDevice.objects.filter(user=user, confirmed_at__isnull=True).delete()
    device = TOTPDevice.objects.create(
        user=user, name=name[:100] or "Authenticator app", secret_encrypted=secret_encrypt(pyotp.random_base32(32))
    )
    return totp_enrolment(device)


def totp_enrol_confirm(*, device: TOTPDevice, code: str, ip: str | None = None) -> None:
    """Confirm an enrolment with a code from the app (CodeRefused, CodeThrottled); the code is then spent."""
    factor_attempt(user=device.user, ip=ip, factor="otp-enrol", check=lambda: _code_use(device, code))
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed_at=clock.now())
    audit_record(kind=AuditEvent.Kind.MFA_ENROLLED, user=device.user, ip=ip, detail=f"totp={device.pk}")


def totp_verify(*, user: AbstractBaseUser, code: str, ip: str | None = None) -> TOTPDevice:
    """The confirmed authenticator app of `user` that `code` is good for, now spent (CodeRefused, CodeThrottled)."""
    devices = list(TOTPDevice.objects.filter(user=user, confirmed_at__isnull=False))
    accepted: list[TOTPDevice] = []

    def check() -> bool:
        accepted.extend(device for device in devices if not accepted and _code_use(device, code))
        return bool(accepted)

    factor_attempt(user=user, ip=ip, factor="otp", check=check)
    return accepted[0]


def totp_remove(*, device: TOTPDevice, ip: str | None = None) -> None:
    device.delete()
    audit_record(kind=AuditEvent.Kind.MFA_REMOVED, user=device.user, ip=ip, detail=f"totp={device.name[:100]}")


def _code_use(device: TOTPDevice, code: str) -> bool:
    """Whether `code` is good for `device` at a step after its last accepted one; that step is then stored,
    by a conditional UPDATE that exactly one of two concurrent uses wins."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return False
    now = clock.now()
    try:
        totp = pyotp.TOTP(secret_decrypt(device.secret_encrypted), digits=DIGITS)
    except InvalidToken:
        logger.error("auth event=totp_secret_unreadable device=%s", device.pk)  # a changed encryption key
        return False
    current = totp.timecode(now)
    steps = range(current - VALID_WINDOW, current + VALID_WINDOW + 1)
    step = next((step for step in steps if strings_equal(totp.generate_otp(step), code)), None)
    if step is None:
        return False
    fresh = Q(last_used_step__isnull=True) | Q(last_used_step__lt=step)
    used = TOTPDevice.objects.filter(fresh, pk=device.pk).update(last_used_step=step, last_used_at=now)
    if not used:
        logger.warning("auth event=totp_replayed user=%s device=%s", device.user_id, device.pk)
    return used == 1
