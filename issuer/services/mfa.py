"""Second factors: who must use one (the MFA policy), what a sign-in proved (amr, acr), and the half-signed-in
state between a correct password and the second factor (the `sso_pending` cookie) that sign_in_complete ends.

"MFA required" is an app's `mfa_required` (that app), a GroupMFAPolicy of one of the user's groups (every app),
or SSO_MFA_REQUIRED_FOR_STAFF for staff (every app and the admin). A session without "mfa" in its amr gets no
token naming such an app (issuer.services.sessions asks audiences_permitted at every issuance)."""

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from .. import clock
from ..http import client_ip
from ..models import (
    AuditEvent,
    GroupMFAPolicy,
    RecoveryCode,
    RelyingApp,
    SSOSession,
    TOTPDevice,
    WebAuthnCredential,
)
from ..selectors import user_audiences
from . import recovery_codes, sessions, totp
from .audit import audit_record

logger = logging.getLogger(__name__)

ACR_ONE_FACTOR = "urn:sso:1fa"
ACR_TWO_FACTORS = "urn:sso:2fa"
MFA = "mfa"
# RFC 8176 methods that are factors of their own; "user" (the authenticator verified the person) is not, but
# makes a passkey two factors in one.
FACTOR_METHODS = ("pwd", "otp", "hwk", "swk")
PASSKEY_METHODS = ("hwk", "swk")

PENDING_COOKIE = "sso_pending"
PENDING_SALT = "issuer.mfa.pending"
PENDING_MAX_AGE_SECONDS = 300
# A pending sign-in that ended (signed in, or stepped up) is spent: its cookie is refused for the rest of its life.
SPENT_PREFIX = "issuer:mfa-pending-spent:"


# ---- policy -------------------------------------------------------------------------------------------


def mfa_required_everywhere(user: AbstractBaseUser) -> bool:
    """Whether the user needs a second factor for every app (and, for staff under the setting, the admin)."""
    if settings.SSO_MFA_REQUIRED_FOR_STAFF and user.is_staff:
        return True
    return GroupMFAPolicy.objects.filter(mfa_required=True, group__user=user).exists()


def mfa_required_for(user: AbstractBaseUser, app: RelyingApp | None = None) -> bool:
    """Whether a password alone may not give `user` a token for `app` (None: for anything at all)."""
    return (app is not None and app.mfa_required) or mfa_required_everywhere(user)


def audiences_permitted(*, user: AbstractBaseUser, audiences: list[str], amr: Iterable[str]) -> list[str]:
    """Of the apps a user may use, the ones a session that proved `amr` may get tokens for."""
    if MFA in amr or not audiences:
        return audiences
    if mfa_required_everywhere(user):
        return []
    required = set(
        RelyingApp.objects.filter(audience__in=audiences, mfa_required=True).values_list("audience", flat=True)
    )
    return [audience for audience in audiences if audience not in required]


def audience_needs_mfa(*, user: AbstractBaseUser, audience: str) -> bool:
    """Whether a token narrowed to `audience` needs a session with a second factor."""
    if audience == settings.SSO_ISSUER["AUDIENCE"]:
        return False  # the account page, where a person enrols a second factor
    app = RelyingApp.objects.filter(audience=audience, is_active=True).first()
    return app is not None and mfa_required_for(user, app)


def step_up_would_admit(*, user_id: str, app: RelyingApp, amr: Iterable[str]) -> bool:
    """Whether a session that proved `amr` is kept from `app` only for want of a second factor."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or MFA in amr:
        return False
    return app.audience in user_audiences(user=user) and mfa_required_for(user, app)


def user_has_second_factor(user: AbstractBaseUser) -> bool:
    """Whether the user has a confirmed authenticator app or a passkey (recovery codes stand in for those)."""
    return (
        TOTPDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
        or WebAuthnCredential.objects.filter(user=user).exists()
    )


def second_factors_reset(*, user: AbstractBaseUser, by: AbstractBaseUser, ip: str | None = None) -> None:
    """Staff reset a person's second factors (a lost phone): every authenticator app, passkey and recovery
    code goes, and so do their sessions, which may have been signed in by whoever holds the lost factor."""
    with transaction.atomic():
        apps = TOTPDevice.objects.filter(user=user).delete()[0]
        passkeys = WebAuthnCredential.objects.filter(user=user).delete()[0]
        RecoveryCode.objects.filter(user=user).delete()
    audit_record(
        kind=AuditEvent.Kind.MFA_RESET,
        user=user,
        ip=ip,
        detail=f"by={by.get_username()} apps={apps} passkeys={passkeys}",
    )
    sessions.user_sessions_revoke(user=user, reason=SSOSession.RevokedReason.ADMIN, ip=ip)


# ---- what a sign-in proved ------------------------------------------------------------------------------


def amr_complete(amr: Iterable[str]) -> list[str]:
    """The methods in order, once each, with "mfa" added when two distinct factors were used or a passkey
    verified the user. A recovery code has no RFC 8176 value: its caller adds "mfa" itself."""
    methods = list(dict.fromkeys(amr))
    factors = [method for method in methods if method in FACTOR_METHODS]
    verified_passkey = "user" in methods and any(method in PASSKEY_METHODS for method in methods)
    if MFA not in methods and (len(factors) >= 2 or verified_passkey):
        methods.append(MFA)
    return methods


def acr_for(amr: Iterable[str]) -> str:
    return ACR_TWO_FACTORS if MFA in amr else ACR_ONE_FACTOR


def code_verify(*, user: AbstractBaseUser, code: str, ip: str | None = None) -> list[str]:
    """Check a second-factor code, an authenticator app's (six digits) or a recovery code, and return the
    methods it adds to amr: ["otp"], or ["mfa"] for a recovery code. Raises totp.CodeRefused or CodeThrottled."""
    if "".join(code.split()).isdigit():
        totp.totp_verify(user=user, code=code, ip=ip)
        return ["otp"]
    recovery_codes.recovery_code_use(user=user, code=code, ip=ip)
    return [MFA]


# ---- the half-signed-in state ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """A sign-in between its first and its second factor: who, where to, what was proved so far, and for a
    step-up the session to upgrade (`sid`)."""

    user: AbstractBaseUser
    next: str
    amr: list[str] = field(default_factory=list)
    nonce: str = ""
    sid: str = ""


def pending_start(
    response: HttpResponse, *, user: AbstractBaseUser, next_url: str, amr: list[str], sid: str = ""
) -> None:
    """Remember on the browser, signed and for five minutes, that `user` proved `amr` and is on their way to
    `next_url`. HttpOnly, so no script reads it; it signs nobody in by itself."""
    value = {"u": user.pk, "n": next_url, "a": amr, "x": secrets.token_urlsafe(16), "s": sid}
    response.set_signed_cookie(
        PENDING_COOKIE,
        signing.dumps(value, compress=True),
        salt=PENDING_SALT,
        max_age=PENDING_MAX_AGE_SECONDS,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=settings.HTTPS,
    )


def pending_read(request: HttpRequest) -> Pending | None:
    """The browser's pending sign-in, if its cookie is ours, younger than five minutes, not spent, and its user
    still active; None otherwise."""
    try:
        raw = request.get_signed_cookie(PENDING_COOKIE, salt=PENDING_SALT, max_age=PENDING_MAX_AGE_SECONDS)
        value = signing.loads(raw)
    except (KeyError, signing.BadSignature):
        return None
    if not isinstance(value, dict) or cache.get(f"{SPENT_PREFIX}{value.get('x')}"):
        return None
    user = get_user_model().objects.filter(pk=value.get("u"), is_active=True).first()
    if user is None:
        return None
    return Pending(user=user, next=value["n"], amr=list(value["a"]), nonce=value["x"], sid=value.get("s", ""))


def pending_clear(response: HttpResponse) -> None:
    response.delete_cookie(PENDING_COOKIE, path="/", samesite="Lax")


def sign_in_complete(request: HttpRequest, *, user: AbstractBaseUser, amr: list[str], next: str) -> HttpResponse:
    """End a sign-in whose factors are proved: start the browser session (or, for a step-up, upgrade the
    session the pending sign-in names, in place) with amr/acr/auth_time, set the cookies like the login page
    and send the browser on to `next`."""
    from ..views.pages import signed_in_response  # pages imports this module

    ip = client_ip(request)
    amr = amr_complete(amr)
    pending = pending_read(request)
    session = None
    if pending is not None and pending.sid and pending.user.pk == user.pk:
        session = SSOSession.objects.select_related("user").filter(sid=pending.sid, user=user).first()
    if session is not None and session.revoked_at is None:
        pair = sessions.session_upgrade(session=session, amr=amr, ip=ip)
        audit_record(kind=AuditEvent.Kind.MFA_SUCCEEDED, user=user, sid=pair.session.sid, ip=ip, detail="step-up")
    else:
        pair = sessions.session_start(user=user, amr=amr, ip=ip, user_agent=request.META.get("HTTP_USER_AGENT", ""))
        audit_record(kind=AuditEvent.Kind.MFA_SUCCEEDED, user=user, sid=pair.session.sid, ip=ip, detail="sign-in")
    if pending is not None:
        cache.set(f"{SPENT_PREFIX}{pending.nonce}", 1, timeout=PENDING_MAX_AGE_SECONDS + 5)
    response = signed_in_response(request, user=user, pair=pair, next_url=next)
    pending_clear(response)
    return response


def session_within(session: SSOSession, *, max_age: int | None) -> bool:
    """Whether the session's last authentication is at most `max_age` seconds old (None: any age)."""
    if max_age is None:
        return True
    auth_time = session.auth_time or session.created_at
    return (clock.now() - auth_time).total_seconds() <= max_age
