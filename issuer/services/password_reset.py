"""Password reset by email: a link carrying a 15-minute JWT that works once. Views call these.

The token is a JWT signed by the issuer (issuer.signing.tokens.PasswordResetToken) with one purpose (`token_type`
password_reset), one user (`sub`), and a fingerprint (`fp`) of that user's password hash and last sign-in,
the idea of Django's PasswordResetTokenGenerator. Setting the password changes the hash, so the link stops
working once used, and so does every other outstanding link, and any link after a password change made
another way. Only the newest requested link is honoured (each sent link is a PasswordResetRequest row), so a
newer request retires the older ones. Changing the password revokes the person's sessions (issuer.signals)."""

import logging
import smtplib
import threading
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import send_mail
from django.db import DatabaseError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError

from .. import clock
from ..models import AuditEvent, PasswordResetRequest
from ..signing.tokens import PasswordResetToken
from . import throttles
from .audit import audit_record

logger = logging.getLogger(__name__)
User = get_user_model()

# Reset emails per address per window: enough for a person who mistyped, too few to flood an inbox.
MAILS_PER_ADDRESS = 3
MAIL_WINDOW_SECONDS = 15 * 60


class ResetLinkInvalid(Exception):
    """The link cannot be used; `reason` is for logs and the inspector, never for the person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ResetGrant:
    user: AbstractBaseUser
    jti: str


def credentials_fingerprint(*, user: AbstractBaseUser) -> str:
    """Changes when the password hash changes, or last_login does (a Django sign-in, as the admin uses):
    what spends a link."""
    last_login = "" if user.last_login is None else user.last_login.replace(microsecond=0, tzinfo=None).isoformat()
    value = f"{user.pk}|{user.password}|{last_login}"
    return salted_hmac(
        "sso.password-reset.fingerprint", value, secret=settings.SECRET_KEY, algorithm="sha256"
    ).hexdigest()[::2]


def _reset_link(raw_token: str) -> str:
    # Built from SSO_ISSUER_URL, never from the request's Host header: a forged Host would otherwise make
    # the email point at the attacker's site, which would then receive the token (reset poisoning).
    return settings.SSO_ISSUER_URL + reverse("password_reset_link", args=[raw_token])


def _token_for(user: AbstractBaseUser) -> PasswordResetToken:
    token = PasswordResetToken()
    now = clock.now()
    token.set_iat(at_time=now)
    token.set_exp(from_time=now)
    token["sub"] = str(user.pk)
    token["fp"] = credentials_fingerprint(user=user)
    return token


def _may_mail(email: str) -> bool:
    """Whether this address's mail budget has room (counted in the database, like the login throttle: a
    cache could evict the count). When the count cannot be kept, no mail: failing closed only delays a link."""
    try:
        count, _ends = throttles.counter_increment(
            scope="reset-mail", identity=email.casefold(), window_seconds=MAIL_WINDOW_SECONDS
        )
    except DatabaseError as e:
        logger.error("auth event=throttle_store_unavailable namespace=reset-mail error=%s", type(e).__name__)
        return False
    return count <= MAILS_PER_ADDRESS


def _message(*, user: AbstractBaseUser, raw_token: str) -> tuple[str, str]:
    context = {
        "user": user,
        "link": _reset_link(raw_token),
        "minutes": int(settings.PASSWORD_RESET_TOKEN_LIFETIME.total_seconds() // 60),
    }
    subject = render_to_string("issuer/password_reset/email_subject.txt", context).strip()
    return subject, render_to_string("issuer/password_reset/email.txt", context)


def password_reset_request(*, email: str, ip: str | None = None) -> int:
    """Email a reset link to each active account with this address (with a usable password); return how
    many were sent. The caller must answer the same whatever this returns: a different answer, or an error,
    would tell anyone which addresses have accounts.

    So known and unknown addresses take the same path: the same queries (the users, the address's mail
    budget, one audit row), a token signed and a message rendered for each account or, when there is none,
    for a stand-in that is never saved, and the mail handed to a background thread after answering (an empty
    hand-off for an unknown address). Only what is written differs, not how much."""
    users = list(PasswordResetForm().get_users(email))
    within_budget = _may_mail(email)
    if not within_budget:
        logger.warning("auth event=password_reset_throttled ip=%s", ip or "-")
    outgoing = []
    for user in users or [User(username="", email=email)]:
        token = _token_for(user)
        subject, body = _message(user=user, raw_token=str(token))
        sending = user.pk is not None and within_budget
        if sending:
            detail = f"jti={token['jti']}"
            outgoing.append((user.get_username(), subject, body, getattr(user, User.get_email_field_name())))
        else:
            # Not recorded against the user: only the newest request is honoured, so recording a link that
            # was never sent would retire the one in the person's inbox.
            detail = "not sent: mail budget spent" if users else "no account with that address"
        PasswordResetRequest.objects.create(user=user if sending else None, jti=token["jti"])
        audit_record(
            kind=AuditEvent.Kind.PASSWORD_RESET_REQUESTED, user=user if sending else None, ip=ip, detail=detail
        )
    if settings.SSO_PASSWORD_RESET_MAIL_IN_BACKGROUND:
        # Sent after the answer: an SMTP conversation takes from 0.1 s to seconds, and only known addresses
        # have one, so sending before answering would tell anyone which addresses have accounts.
        threading.Thread(target=_send_all, args=(outgoing,), name="password-reset-mail", daemon=True).start()
        return len(outgoing)
    return _send_all(outgoing)


def _send_all(outgoing: list[tuple[str, str, str, str]]) -> int:
    sent = 0
    for username, subject, body, address in outgoing:
        try:
            send_mail(subject, body, None, [address])
        except (smtplib.SMTPException, OSError) as e:
            # Logged, not raised: an error page only for existing addresses would reveal them.
            logger.error("auth event=password_reset_mail_failed user=%s error=%s", username, type(e).__name__)
            continue
        sent += 1
    return sent


def _read(raw_token: str) -> PasswordResetToken:
    try:
        return PasswordResetToken(raw_token)
    except ExpiredTokenError as e:
        raise ResetLinkInvalid("expired") from e
    except TokenError as e:
        # Bad signature, wrong issuer or audience, wrong token type (an access or refresh token), malformed.
        raise ResetLinkInvalid("invalid") from e


def _check(*, user: AbstractBaseUser | None, token: PasswordResetToken) -> None:
    if user is None or not user.is_active:
        raise ResetLinkInvalid("unknown or inactive user")
    jti = token["jti"]
    requests = PasswordResetRequest.objects.filter(user=user)
    if requests.filter(jti=jti, used_at__isnull=False).exists():
        raise ResetLinkInvalid("already used")
    newest = requests.order_by("-created_at", "-pk").values_list("jti", flat=True).first()
    if newest != jti:
        raise ResetLinkInvalid("superseded by a newer reset")
    if not constant_time_compare(str(token.get("fp", "")), credentials_fingerprint(user=user)):
        raise ResetLinkInvalid("password changed or signed in since")


def _user_of(token: PasswordResetToken, *, lock: bool = False) -> AbstractBaseUser | None:
    users = User.objects.select_for_update() if lock else User.objects.all()
    try:
        return users.filter(pk=token["sub"]).first()
    except (ValueError, TypeError, KeyError):
        return None


def password_reset_token_check(*, raw_token: str) -> ResetGrant:
    """Whether a reset link may still be used, and by whom; raises ResetLinkInvalid with the reason."""
    token = _read(raw_token)
    user = _user_of(token)
    _check(user=user, token=token)
    return ResetGrant(user=user, jti=token["jti"])


def password_reset_complete(*, raw_token: str, new_password: str, ip: str | None = None) -> AbstractBaseUser:
    """Set a new password with a reset link, once. Django's validators judge the password (a ValidationError
    says why); the user row is locked, so of two uses of one link exactly one succeeds. Saving the new
    password revokes every session of the person (issuer.signals) when this commits."""
    token = _read(raw_token)
    with transaction.atomic():
        user = _user_of(token, lock=True)
        _check(user=user, token=token)
        password_validation.validate_password(new_password, user)
        user.set_password(new_password)
        user.save()
        PasswordResetRequest.objects.filter(user=user, jti=token["jti"]).update(used_at=clock.now())
        audit_record(kind=AuditEvent.Kind.PASSWORD_RESET, user=user, ip=ip, detail=f"jti={token['jti']}")
    return user
