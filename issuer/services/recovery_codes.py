"""Recovery codes: ten single-use codes, shown once, stored as keyed digests, for a person who lost their
authenticator app or passkey. A new set voids the old one.

A code is ten characters of a 31-letter alphabet without look-alikes (49 random bits), so a keyed digest
(HMAC-SHA256 under SECRET_KEY, like a client secret's) protects a leaked database without a slow hash; guesses
are throttled with the other second factors (totp.factor_attempt). Using one is a conditional UPDATE on
`used_at IS NULL`, so of two concurrent uses of one code exactly one passes."""

import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.crypto import salted_hmac

from .. import clock
from ..models import AuditEvent, RecoveryCode
from .audit import audit_record
from .totp import factor_attempt

CODE_COUNT = 10
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GROUP = 5


def _normalised(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _digest(code: str, *, key: str) -> str:
    return salted_hmac("issuer.recovery-code", _normalised(code), secret=key, algorithm="sha256").hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(2 * GROUP))
    return f"{raw[:GROUP]}-{raw[GROUP:]}"


def recovery_codes_generate(*, user: AbstractBaseUser, ip: str | None = None) -> list[str]:
    """A new set of ten codes for `user`, returned once (only their digests are kept); the old set is void."""
    codes = [_new_code() for _ in range(CODE_COUNT)]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, code_digest=_digest(code, key=settings.SECRET_KEY)) for code in codes
        )
    audit_record(kind=AuditEvent.Kind.RECOVERY_CODES_GENERATED, user=user, ip=ip)
    return codes


def recovery_codes_remaining(user: AbstractBaseUser) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def recovery_code_use(*, user: AbstractBaseUser, code: str, ip: str | None = None) -> None:
    """Spend one of the user's unused codes (CodeRefused, CodeThrottled from issuer.services.totp)."""

    def check() -> bool:
        if len(_normalised(code)) != 2 * GROUP:
            return False
        digests = [_digest(code, key=key) for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]
        unused = RecoveryCode.objects.filter(user=user, code_digest__in=digests, used_at__isnull=True)
        return unused.update(used_at=clock.now()) == 1

    factor_attempt(user=user, ip=ip, factor="recovery", check=check)
    audit_record(
        kind=AuditEvent.Kind.RECOVERY_CODE_USED, user=user, ip=ip, detail=f"left={recovery_codes_remaining(user)}"
    )
