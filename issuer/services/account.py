"""A person's own account, as the account page changes it: profile, password, sessions, and the email that
confirms each change that matters (so a change made by someone else with a stolen session is noticed)."""

import logging
import smtplib

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail

from ..models import AuditEvent, SSOSession, TOTPDevice, WebAuthnCredential
from .audit import audit_record, log_safe
from .credentials import credentials_authenticate
from .sessions import session_revoke

logger = logging.getLogger(__name__)


def account_notify(*, user: AbstractBaseUser, subject: str, what: str) -> None:
    """Tell the person by email that `what` happened to their account, and what to do if it was not them."""
    address = getattr(user, "email", "")
    if not address:
        return
    body = (
        f"Hello {user.get_username()},\n\n{what}\n\n"
        f"If this was not you, sign in at {settings.SSO_ISSUER_URL}/account/, change your password and remove "
        "any second factor you do not recognise, then tell an administrator.\n"
    )
    try:
        send_mail(f"Your account: {subject}", body, None, [address])
    except (smtplib.SMTPException, OSError) as e:
        # Logged, not raised: the change is made and audited whether or not the mail goes out.
        logger.error("auth event=account_mail_failed user=%s error=%s", log_safe(user.get_username()), type(e).__name__)


def profile_update(*, user: AbstractBaseUser, first_name: str, last_name: str, email: str, ip: str | None) -> bool:
    """Set the person's name and email address; True when something changed. A new address is told at both."""
    old_email = user.email
    changed = (user.first_name, user.last_name, user.email) != (first_name, last_name, email)
    if not changed:
        return False
    user.first_name, user.last_name, user.email = first_name, last_name, email
    user.save(update_fields=["first_name", "last_name", "email"])
    audit_record(kind=AuditEvent.Kind.PROFILE_CHANGED, user=user, ip=ip, detail="name or email")
    if old_email and old_email != email:
        # The old address hears of it too: taking over an account often starts with moving its email.
        old = type(user)(username=user.get_username(), email=old_email)
        account_notify(user=old, subject="email address changed", what=f"Its email address is now {email}.")
    account_notify(user=user, subject="profile changed", what="Your name or email address was changed.")
    return True


def password_change(*, user: AbstractBaseUser, old_password: str, new_password: str, ip: str | None) -> None:
    """Change the person's password: the current one checked like a sign-in (throttled: a stolen session must
    not become a way to guess it), the new one judged by Django's validators (ValidationError says why).
    Saving it ends every session of the person (issuer.signals); the caller signs this browser in again."""
    credentials_authenticate(username=user.get_username(), password=old_password, ip=ip)
    password_validation.validate_password(new_password, user)
    user.set_password(new_password)
    user.save()
    audit_record(kind=AuditEvent.Kind.PASSWORD_CHANGED, user=user, ip=ip, detail="account page")
    account_notify(user=user, subject="password changed", what="Your password was changed; every other sign-in ended.")


def own_session_revoke(*, user: AbstractBaseUser, sid: str, ip: str | None) -> bool:
    """End one of the person's own sessions (a browser's or an app's); False when it is not theirs or has ended."""
    session = SSOSession.objects.select_related("user").filter(user=user, sid=sid, revoked_at__isnull=True).first()
    if session is None:
        return False
    return session_revoke(session=session, reason=SSOSession.RevokedReason.SELF, ip=ip)


def factor_rename(*, factor: WebAuthnCredential | TOTPDevice, name: str, ip: str | None) -> None:
    """Rename one of a person's second factors (a passkey or an authenticator app)."""
    factor.name = name.strip()[:100] or factor.name
    factor.save(update_fields=["name"])
    audit_record(
        kind=AuditEvent.Kind.MFA_RENAMED, user=factor.user, ip=ip, detail=f"{factor._meta.model_name}={factor.pk}"
    )
