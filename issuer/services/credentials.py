"""Password sign-on: checking a username and password under the failed-attempt throttles."""

from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser, update_last_login

from .. import metrics
from ..models import AuditEvent
from . import throttles
from .audit import audit_record
from .errors import SignOnError


class InvalidCredentials(SignOnError):
    """Unknown user, wrong password or inactive user: deliberately indistinguishable."""


class LoginThrottled(SignOnError):
    """Too many failed sign-ons for this username or from this address; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def credentials_authenticate(*, username: str, password: str, ip: str | None = None) -> AbstractBaseUser:
    """Check a username and password. Django's ModelBackend hashes a dummy password for unknown users,
    so unknown, inactive and wrong-password attempts cost the same and fail the same way.

    Attempts are counted per username and per address (`ip`, from issuer.http.client_ip) before the
    password is checked, and a success takes its attempt back; past either limit this raises LoginThrottled,
    before the password is checked, for the rest of the window (issuer.services.throttles)."""
    retry_after = throttles.attempt_begin(username=username, ip=ip)
    if retry_after is not None:
        metrics.SIGN_INS.labels(outcome="throttled").inc()
        raise LoginThrottled(retry_after)
    user = authenticate(request=None, username=username, password=password)
    if user is None or not user.is_active:
        audit_record(kind=AuditEvent.Kind.LOGIN_FAILED, username=username, ip=ip)
        metrics.SIGN_INS.labels(outcome="invalid_credentials").inc()
        raise InvalidCredentials
    throttles.attempt_succeeded(username=username, ip=ip)
    metrics.SIGN_INS.labels(outcome="ok").inc()
    # Every password sign-in (API and login page) is the admin's "Last login"; it also spends reset links.
    update_last_login(None, user)
    return user
