"""SSO sessions: sign-on's token pair, refresh rotation with reuse detection, revocation and logout."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from rest_framework_simplejwt.exceptions import TokenError

from .. import clock, metrics
from ..models import AuditEvent, RevokedSession, SSOSession
from ..selectors import user_audiences, user_roles
from ..signing.tokens import SSOAccessToken, SSORefreshToken
from .audit import audit_record, log_safe
from .errors import SignOnError

logger = logging.getLogger(__name__)


class AudienceNotAllowed(SignOnError):
    """The user asked for a token for an app they may not use, or one that does not exist."""


class RefreshRejected(SignOnError):
    """The refresh token is malformed, expired, of the wrong type, or its session has ended."""


class TokenTooLarge(SignOnError):
    """The user's roles and apps do not fit in an access token of at most MAX_ACCESS_TOKEN_BYTES."""


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    session: SSOSession
    access_expires_in: int


# Access tokens travel in every request (header or cookie); the contract holds each under 1 KB.
MAX_ACCESS_TOKEN_BYTES = 1024


def _token_grants_load(*, session: SSOSession) -> None:
    """Work out what the session's access tokens name (every app the user may use, the user's roles) and keep
    it on the session: at sign-on, and at a refresh after a change to groups or app access cleared it
    (session_grants_invalidate). The caller saves the session."""
    session.token_audiences = user_audiences(user=session.user)
    session.token_roles = user_roles(user=session.user)


def _access_token(*, user: AbstractBaseUser, session: SSOSession) -> str:
    """The signed access token. Its claims are the minimum permission checks need. `username` is for display
    only, so a token that would pass MAX_ACCESS_TOKEN_BYTES (a very long name) goes without it and apps show
    `sub`; one still too large (too many roles or apps) is refused, never trimmed: a missing role or app would
    silently change what the person may do.

    A default token names the relying apps the person may use, never the issuer itself: every app it is
    handed to could otherwise call the issuer's account API as the person (list, revoke, log out
    everywhere). A token for the issuer's own audience is issued only when asked for, and names nothing else.
    The apps and roles are the session's (token_audiences, token_roles), worked out at sign-on."""
    audiences = session.token_audiences
    if session.audience == settings.SSO_ISSUER["AUDIENCE"]:
        audiences = [session.audience]
    elif session.audience:
        if session.audience not in audiences:
            raise AudienceNotAllowed
        audiences = [session.audience]
    token = SSOAccessToken()
    token["sub"] = str(user.pk)
    token["aud"] = audiences
    token["sid"] = session.sid
    token["username"] = user.get_username()
    token["roles"] = session.token_roles
    if user.is_staff:
        token["staff"] = True
    encoded = str(token)
    if len(encoded) > MAX_ACCESS_TOKEN_BYTES:
        del token["username"]
        encoded = str(token)
    if len(encoded) > MAX_ACCESS_TOKEN_BYTES:
        logger.error("auth event=token_too_large user=%s bytes=%d", log_safe(user.get_username()), len(encoded))
        raise TokenTooLarge
    metrics.TOKENS_ISSUED.labels(kind="access").inc()
    return encoded


def _refresh_token(*, user: AbstractBaseUser, session: SSOSession) -> SSORefreshToken:
    token = SSORefreshToken()
    token["sub"] = str(user.pk)
    token["sid"] = session.sid
    metrics.TOKENS_ISSUED.labels(kind="refresh").inc()
    return token


def session_start(
    *, user: AbstractBaseUser, audience: str = "", ip: str | None = None, user_agent: str = ""
) -> TokenPair:
    """Sign a user on: a new SSO session and its first token pair. `audience` narrows its access tokens to
    one relying app the user may use, or to the issuer's own account API (SSO_ISSUER["AUDIENCE"])."""
    refresh_lifetime: timedelta = settings.REFRESH_TOKEN_LIFETIME
    session = SSOSession(
        user=user,
        audience=audience,
        ip_address=ip,
        user_agent=user_agent[:300],
        expires_at=clock.now() + refresh_lifetime,
    )
    _token_grants_load(session=session)
    if audience and audience != settings.SSO_ISSUER["AUDIENCE"] and audience not in session.token_audiences:
        raise AudienceNotAllowed
    refresh = _refresh_token(user=user, session=session)
    access = _access_token(user=user, session=session)
    session.refresh_jti = refresh["jti"]
    session.save()
    audit_record(
        kind=AuditEvent.Kind.LOGIN_SUCCEEDED, user=user, sid=session.sid, ip=ip, detail=f"audience={audience or '*'}"
    )
    return TokenPair(access, str(refresh), session, int(settings.ACCESS_TOKEN_LIFETIME.total_seconds()))


def _read_refresh(raw_refresh: str) -> SSORefreshToken:
    try:
        return SSORefreshToken(raw_refresh)
    except TokenError as e:
        raise RefreshRejected from e


# What a refresh reads, in its one locked read: the session's rotation state and what its tokens name, and of
# its user what the tokens carry and whether they are still active. Fewer columns, less for the ORM to build.
_REFRESH_READS = (
    "sid",
    "audience",
    "refresh_jti",
    "revoked_at",
    "token_audiences",
    "token_roles",
    "user__id",
    "user__username",
    "user__is_active",
    "user__is_staff",
    "user__is_superuser",
)


def session_refresh(*, raw_refresh: str, ip: str | None = None) -> TokenPair:
    """Rotate: the presented refresh token is spent and a new pair is issued for the same session.

    Presenting a refresh token that was already rotated means two parties hold it (one of them a thief):
    the whole session is revoked. The session row is locked, so of two concurrent refreshes with the same
    token exactly one succeeds and the other is treated as the replay it is."""
    presented = _read_refresh(raw_refresh)
    with transaction.atomic():
        # One read: the session and its user (what the token needs), the session row locked only (`of`):
        # locking the joined user row too would serialise every refresh of that user's other sessions and
        # block saves of the user.
        try:
            session = (
                SSOSession.objects.select_for_update(of=("self",))
                .select_related("user")
                .only(*_REFRESH_READS)
                .get(sid=presented["sid"])
            )
        except SSOSession.DoesNotExist as e:
            raise RefreshRejected from e
        if session.revoked_at is not None:
            raise RefreshRejected
        user = session.user
        # Revocations below must commit, so the refusal is raised only after the transaction ends.
        refusal = None
        if presented["jti"] != session.refresh_jti:
            session_revoke(session=session, reason=SSOSession.RevokedReason.REFRESH_REUSE, ip=ip)
            metrics.REFRESH_REUSE.inc()
            audit_record(kind=AuditEvent.Kind.REFRESH_REUSED, user=user, sid=session.sid, ip=ip)
            refusal = RefreshRejected("refresh token reused")
        elif not user.is_active:
            session_revoke(session=session, reason=SSOSession.RevokedReason.USER_DEACTIVATED, ip=ip)
            refusal = RefreshRejected("user inactive")
        else:
            changed = ["refresh_jti", "last_refreshed_at", "expires_at"]
            if session.token_audiences is None or session.token_roles is None:
                _token_grants_load(session=session)  # groups or app access changed since the last token
                changed += ["token_audiences", "token_roles"]
            refresh = _refresh_token(user=user, session=session)
            access = _access_token(user=user, session=session)
            now = clock.now()
            session.refresh_jti = refresh["jti"]
            session.last_refreshed_at = now
            session.expires_at = now + settings.REFRESH_TOKEN_LIFETIME
            session.save(update_fields=changed)
            audit_record(kind=AuditEvent.Kind.REFRESHED, user=user, sid=session.sid, ip=ip)
            metrics.REFRESHES.labels(outcome="ok").inc()
    if refusal is not None:
        raise refusal
    return TokenPair(access, str(refresh), session, int(settings.ACCESS_TOKEN_LIFETIME.total_seconds()))


def session_grants_invalidate(*, user: AbstractBaseUser | None = None) -> int:
    """A user's groups or app access changed (or, with no `user`, an app or a group did, which may concern
    anyone): their live sessions work out their apps and roles again at their next refresh, so the change
    reaches access tokens within one access-token lifetime, as it did when every refresh looked them up."""
    sessions = SSOSession.objects.filter(revoked_at__isnull=True)
    if user is not None:
        sessions = sessions.filter(user=user)
    return sessions.update(token_audiences=None, token_roles=None)


def session_revoke(*, session: SSOSession, reason: str, ip: str | None = None) -> bool:
    """End one session: its refresh token stops working now, its access tokens at every relying app
    within their revocation refresh interval. Returns False when it had already ended."""
    now = clock.now()
    with transaction.atomic():
        updated = SSOSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_reason=reason
        )
        if not updated:
            return False
        # The published list's record, which outlives the user (issuer.services.revocations).
        RevokedSession.objects.create(sid=session.sid, revoked_at=now)
    metrics.SESSIONS_REVOKED.labels(reason=reason).inc()
    kind = AuditEvent.Kind.LOGOUT if reason == SSOSession.RevokedReason.LOGOUT else AuditEvent.Kind.SESSION_REVOKED
    audit_record(kind=kind, user=session.user, sid=session.sid, ip=ip, detail=f"reason={reason}")
    return True


def user_sessions_revoke(*, user: AbstractBaseUser, reason: str, ip: str | None = None) -> int:
    """Log a user out everywhere."""
    sessions = SSOSession.objects.filter(user=user, revoked_at__isnull=True).select_related("user")
    return sum(session_revoke(session=session, reason=reason, ip=ip) for session in sessions)


def logout(*, raw_refresh: str, ip: str | None = None) -> None:
    """End the session a refresh token belongs to: its `refresh_jti` then refuses that token and every other.

    Only the session's current refresh token does: its `sub` must be the session's user and its `jti` the
    session's live one. A token already rotated out is refused (RefreshRejected) and, unlike at refresh,
    does not trip reuse detection: revoking on it would hand whoever holds a stale or forged token (with a
    known `sid`) the very thing they asked for, the end of someone else's session. At refresh, revoking is
    what stops a thief; here it would only serve one."""
    presented = _read_refresh(raw_refresh)
    session = SSOSession.objects.select_related("user").filter(sid=presented["sid"]).first()
    if session is None or presented.get("sub") != str(session.user_id) or presented["jti"] != session.refresh_jti:
        raise RefreshRejected
    session_revoke(session=session, reason=SSOSession.RevokedReason.LOGOUT, ip=ip)
