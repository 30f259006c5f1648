"""SSO sessions: sign-on's token pair, an OpenID Connect client's session from its authorization code, refresh
rotation with reuse detection, revocation and logout."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils.crypto import salted_hmac

from sso_client.jws import MalformedToken

from .. import clock, metrics
from ..models import AuditEvent, AuthorizationCode, RevokedSession, SSOSession
from ..selectors import user_audiences, user_roles
from ..signing.oidc import ACCESS_TOKEN_TYP, jwt_sign
from ..signing.tokens import new_token_claims, refresh_token_issue, refresh_token_read
from . import mfa
from .audit import audit_logged, audit_record, log_safe
from .backchannel import backchannel_logout_enqueue
from .errors import SignOnError
from .rows import session_fields_save, session_locked_read, session_rotate

logger = logging.getLogger(__name__)


class AudienceNotAllowed(SignOnError):
    """The user asked for a token for an app they may not use, or one that does not exist."""


class MFARequired(AudienceNotAllowed):
    """The token would name an app that requires a second factor, and the session has none (issuer.services.mfa)."""


class RefreshRejected(SignOnError):
    """The refresh token is malformed, expired, of the wrong type, or its session has ended."""


class TokenTooLarge(SignOnError):
    """The user's roles and apps do not fit in an access token of at most MAX_ACCESS_TOKEN_BYTES."""


class CodeRejected(SignOnError):
    """The authorization code has expired, was already exchanged, or its browser sign-on has ended."""


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
    session.token_audiences = mfa.audiences_permitted(
        user=session.user, audiences=user_audiences(user=session.user), amr=session.amr
    )
    session.token_roles = user_roles(user=session.user)


def _access_token(*, user: AbstractBaseUser, session: SSOSession) -> str:
    """The signed access token. Its claims are the minimum permission checks need. `username` is for display
    only, so a token that would pass MAX_ACCESS_TOKEN_BYTES (a very long name) goes without it and apps show
    `sub`; one still too large (too many roles or apps) is refused, never trimmed: a missing role or app would
    silently change what the person may do.

    A default token names the relying apps the person may use, never the issuer itself: every app it is
    handed to could otherwise call the issuer's account API as the person (list, revoke, log out
    everywhere). A token for the issuer's own audience is issued only when asked for, and names nothing else.
    The apps and roles are the session's (token_audiences, token_roles), worked out at sign-on.

    A client session's token (OpenID Connect) has the RFC 9068 profile besides: `typ` at+jwt in its header and
    the `client_id` and `scope` it was issued for; its `aud` is the client's audience alone."""
    audiences = session.token_audiences
    if session.audience == settings.SSO_ISSUER["AUDIENCE"]:
        audiences = [session.audience]
    elif session.audience:
        if session.audience not in audiences:
            raise MFARequired if mfa.audience_needs_mfa(user=user, audience=session.audience) else AudienceNotAllowed
        audiences = [session.audience]
    claims = new_token_claims(token_type="access", lifetime=settings.ACCESS_TOKEN_LIFETIME)
    claims["sub"] = str(user.pk)
    claims["aud"] = audiences
    claims["sid"] = session.sid
    claims["username"] = user.get_username()
    claims["roles"] = session.token_roles
    # What the sign-on proved, copied from the session: a refresh never upgrades it (RFC 8176, RFC 9470).
    claims["amr"] = session.amr or ["pwd"]
    claims["acr"] = session.acr or mfa.ACR_ONE_FACTOR
    claims["auth_time"] = int((session.auth_time or session.created_at or clock.now()).timestamp())
    if user.is_staff:
        claims["staff"] = True
    if session.client_id is not None:
        claims["client_id"] = session.client.client_id
        claims["scope"] = session.scope
    # SSOAccessToken's claims and signature (issuer.signing.tokens), built as a dict and signed once.
    typ = "JWT" if session.client_id is None else ACCESS_TOKEN_TYP
    encoded = jwt_sign(claims, typ=typ)
    if len(encoded) > MAX_ACCESS_TOKEN_BYTES:
        del claims["username"]
        encoded = jwt_sign(claims, typ=typ)
    if len(encoded) > MAX_ACCESS_TOKEN_BYTES:
        logger.error("auth event=token_too_large user=%s bytes=%d", log_safe(user.get_username()), len(encoded))
        raise TokenTooLarge
    metrics.TOKENS_ISSUED.labels(kind="access").inc()
    return encoded


def _refresh_issue(*, user: AbstractBaseUser, session: SSOSession, jti: str | None = None) -> tuple[str, str]:
    """A refresh token for the session and its jti (a new random one unless given: successor_jti at a refresh)."""
    metrics.TOKENS_ISSUED.labels(kind="refresh").inc()
    return refresh_token_issue(sub=str(user.pk), sid=session.sid, jti=jti)


def session_start(
    *,
    user: AbstractBaseUser,
    audience: str = "",
    ip: str | None = None,
    user_agent: str = "",
    amr: list[str] | None = None,
) -> TokenPair:
    """Sign a user on: a new SSO session and its first token pair. `audience` narrows its access tokens to
    one relying app the user may use, or to the issuer's own account API (SSO_ISSUER["AUDIENCE"]). `amr` is
    what the sign-on proved (a password alone unless said); apps that require more are left out of the
    tokens (issuer.services.mfa), and a token narrowed to one of them is refused (MFARequired)."""
    refresh_lifetime: timedelta = settings.REFRESH_TOKEN_LIFETIME
    now = clock.now()
    amr = amr or ["pwd"]
    session = SSOSession(
        user=user,
        audience=audience,
        ip_address=ip,
        user_agent=user_agent[:300],
        expires_at=now + refresh_lifetime,
        auth_time=now,
        amr=amr,
        acr=mfa.acr_for(amr),
    )
    _token_grants_load(session=session)
    if audience and audience != settings.SSO_ISSUER["AUDIENCE"] and audience not in session.token_audiences:
        raise MFARequired if mfa.audience_needs_mfa(user=user, audience=audience) else AudienceNotAllowed
    refresh, session.refresh_jti = _refresh_issue(user=user, session=session)
    access = _access_token(user=user, session=session)
    session.save()
    audit_record(
        kind=AuditEvent.Kind.LOGIN_SUCCEEDED, user=user, sid=session.sid, ip=ip, detail=f"audience={audience or '*'}"
    )
    return TokenPair(access, refresh, session, int(settings.ACCESS_TOKEN_LIFETIME.total_seconds()))


def client_session_start(*, code: AuthorizationCode, ip: str | None = None) -> TokenPair:
    """Exchange an authorization code: a new session for its client (OpenID Connect), linked to the browser
    sign-on the code came from, with that sign-on's auth_time and amr, and its first token pair.

    The code row is locked, so of two exchanges of one code exactly one succeeds. Any exchange after the first
    is a replay (RFC 6749 section 4.1.2): the session the first one made is revoked (code_replay_revoke) and
    CodeRejected raised."""
    now = clock.now()
    refusal = None
    with transaction.atomic():
        code = (
            AuthorizationCode.objects.select_for_update(of=("self",))
            .select_related("client", "user", "browser_session")
            .get(pk=code.pk)
        )
        browser_session = code.browser_session
        if code.used_at is not None:
            code_replay_revoke(code=code, ip=ip)
            refusal = CodeRejected("code replayed")
        elif code.expires_at <= now or browser_session.revoked_at is not None or not code.user.is_active:
            refusal = CodeRejected("code expired or sign-on ended")
        else:
            session = SSOSession(
                user=code.user,
                audience=code.client.audience,
                client=code.client,
                browser_session=browser_session,
                scope=code.scope,
                auth_time=code.auth_time,
                amr=browser_session.amr or ["pwd"],
                acr=browser_session.acr,
                ip_address=ip,
                expires_at=now + settings.REFRESH_TOKEN_LIFETIME,
            )
            _token_grants_load(session=session)
            refresh, session.refresh_jti = _refresh_issue(user=code.user, session=session)
            access = _access_token(user=code.user, session=session)
            session.save()
            code.used_at = now
            code.issued_session = session
            code.save(update_fields=["used_at", "issued_session"])
            audit_record(
                kind=AuditEvent.Kind.LOGIN_SUCCEEDED,
                user=code.user,
                sid=session.sid,
                ip=ip,
                detail=f"client={code.client.client_id} via={browser_session.sid}",
            )
    if refusal is not None:
        raise refusal
    return TokenPair(access, refresh, session, int(settings.ACCESS_TOKEN_LIFETIME.total_seconds()))


def code_replay_revoke(*, code: AuthorizationCode, ip: str | None = None) -> None:
    """A spent authorization code presented again: whoever holds it is not (only) its client, so the session
    its exchange made is revoked, with the tokens issued from it."""
    issued = SSOSession.objects.select_related("user").filter(pk=code.issued_session_id).first()
    if issued is not None:
        session_revoke(session=issued, reason=SSOSession.RevokedReason.CODE_REPLAY, ip=ip)
    audit_record(
        kind=AuditEvent.Kind.CODE_REPLAYED,
        user=code.user,
        sid=issued.sid if issued else "",
        ip=ip,
        detail=f"client={code.client.client_id}",
    )


def _read_refresh(raw_refresh: str) -> dict[str, Any]:
    try:
        return refresh_token_read(raw_refresh)
    except (MalformedToken, jwt.InvalidTokenError) as e:
        raise RefreshRejected from e


def successor_jti(jti: str) -> str:
    """The jti of the refresh token that replaces the one with `jti`: derived from it under a server key (never
    guessable from the token), so the session's current jti names which token it replaced."""
    return salted_hmac("issuer.services.sessions.successor_jti", jti).hexdigest()[:32]


def refresh_is_retry(*, session: SSOSession, jti: str) -> bool:
    """Whether a refresh token already rotated is being presented again by the client that rotated it: it is
    the very token the session's current one replaced (so that one has not been used since), and its rotation
    was at most SSO_REFRESH_RETRY_GRACE_SECONDS ago. A client whose answer was lost (it timed out while the
    issuer rotated), or two browser tabs racing, retry within seconds; a replay later, or after the new token
    was used, is two parties holding one token. The trade-off: a thief replaying within seconds of the owner,
    before the owner's next refresh, gets a pair too (the grace period every rotating provider offers)."""
    if session.last_refreshed_at is None or session.refresh_jti != successor_jti(jti):
        return False
    grace = timedelta(seconds=settings.SSO_REFRESH_RETRY_GRACE_SECONDS)
    return clock.now() - session.last_refreshed_at <= grace


def _session_rotated(*, presented: dict[str, Any], ip: str | None) -> TokenPair | None:
    """The ordinary refresh (the current token, a live session, an active user, apps and roles worked out) with
    its writes in one statement where the database allows it (rows.session_rotate, PostgreSQL); None, having
    written nothing, when the general path must decide. Call it inside transaction.atomic."""
    now = clock.now()
    session = session_rotate(
        sid=presented["sid"],
        jti=presented["jti"],
        new_jti=successor_jti(presented["jti"]),
        now=now,
        expires_at=now + settings.REFRESH_TOKEN_LIFETIME,
        audit_kind=AuditEvent.Kind.REFRESHED,
        ip=ip,
    )
    if session is None:
        return None
    refresh, _ = _refresh_issue(user=session.user, session=session, jti=session.refresh_jti)
    access = _access_token(user=session.user, session=session)
    audit_logged(kind=AuditEvent.Kind.REFRESHED, username=session.user.get_username(), sid=session.sid, ip=ip)
    metrics.REFRESHES.labels(outcome="ok").inc()
    return TokenPair(access, refresh, session, int(settings.ACCESS_TOKEN_LIFETIME.total_seconds()))


def session_refresh(*, raw_refresh: str, ip: str | None = None) -> TokenPair:
    """Rotate: the presented refresh token is spent and a new pair is issued for the same session.

    Presenting a refresh token that was already rotated means two parties hold it (one of them a thief):
    the whole session is revoked, unless it is the same client retrying within seconds (refresh_is_retry),
    which gets the pair of its rotation again: a fresh access token and the refresh token that replaced the
    presented one (the same jti, so only one of the two copies can ever rotate). The session row is locked,
    so of two concurrent refreshes with the same token one rotates and the other is then a retry.

    The least a durable rotation needs: one locked read (the session with its user and client, compiled once:
    issuer.services.rows), one update, the audit event's insert, one RSA signature; on PostgreSQL the
    ordinary case sends the three as one statement (_session_rotated)."""
    presented = _read_refresh(raw_refresh)
    with transaction.atomic():
        pair = _session_rotated(presented=presented, ip=ip)
        if pair is not None:
            return pair
        session = session_locked_read(sid=presented["sid"])
        if session is None or session.revoked_at is not None:
            raise RefreshRejected
        user = session.user
        # Revocations below must commit, so the refusal is raised only after the transaction ends.
        refusal = None
        retry = presented["jti"] != session.refresh_jti and refresh_is_retry(session=session, jti=presented["jti"])
        if presented["jti"] != session.refresh_jti and not retry:
            session_revoke(session=session, reason=SSOSession.RevokedReason.REFRESH_REUSE, ip=ip)
            metrics.REFRESH_REUSE.inc()
            audit_record(kind=AuditEvent.Kind.REFRESH_REUSED, user=user, sid=session.sid, ip=ip)
            refusal = RefreshRejected("refresh token reused")
        elif not user.is_active:
            session_revoke(session=session, reason=SSOSession.RevokedReason.USER_DEACTIVATED, ip=ip)
            refusal = RefreshRejected("user inactive")
        else:
            changed = []
            if session.token_audiences is None or session.token_roles is None:
                _token_grants_load(session=session)  # groups or app access changed since the last token
                changed += ["token_audiences", "token_roles"]
            if retry:
                refresh, _ = _refresh_issue(user=user, session=session, jti=session.refresh_jti)
                logger.info("auth event=refresh_retried sid=%s", session.sid)
            else:
                refresh, session.refresh_jti = _refresh_issue(
                    user=user, session=session, jti=successor_jti(presented["jti"])
                )
                now = clock.now()
                session.last_refreshed_at = now
                session.expires_at = now + settings.REFRESH_TOKEN_LIFETIME
                changed += ["refresh_jti", "last_refreshed_at", "expires_at"]
            access = _access_token(user=user, session=session)
            if changed:
                session_fields_save(session=session, names=changed)
            audit_record(kind=AuditEvent.Kind.REFRESHED, user=user, sid=session.sid, ip=ip)
            metrics.REFRESHES.labels(outcome="ok").inc()
    if refusal is not None:
        raise refusal
    return TokenPair(access, refresh, session, int(settings.ACCESS_TOKEN_LIFETIME.total_seconds()))


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
    within their revocation refresh interval. A browser sign-on's client sessions end with it, and every
    ended client session's client gets a back-channel logout notice (issuer.services.backchannel). Returns
    False when it had already ended."""
    now = clock.now()
    with transaction.atomic():
        updated = SSOSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_reason=reason
        )
        if not updated:
            return False
        # The published list's record, which outlives the user (issuer.services.revocations).
        RevokedSession.objects.create(sid=session.sid, revoked_at=now)
        # Its client's notice, committed with the revocation so that none is lost (delivered after commit).
        backchannel_logout_enqueue(session=session)
        # A browser sign-on's client sessions end with it: each its own sid on the list, its own notice.
        for client_session in SSOSession.objects.filter(
            browser_session=session, revoked_at__isnull=True
        ).select_related("user"):
            session_revoke(session=client_session, reason=SSOSession.RevokedReason.SIGNED_OUT, ip=ip)
    metrics.SESSIONS_REVOKED.labels(reason=reason).inc()
    kind = AuditEvent.Kind.LOGOUT if reason == SSOSession.RevokedReason.LOGOUT else AuditEvent.Kind.SESSION_REVOKED
    audit_record(kind=kind, user=session.user, sid=session.sid, ip=ip, detail=f"reason={reason}")
    return True


def user_sessions_revoke(*, user: AbstractBaseUser, reason: str, ip: str | None = None) -> int:
    """Log a user out everywhere."""
    # Client sessions first, each with this reason; a browser sign-on then finds none of its own left to end.
    sessions = (
        SSOSession.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("user")
        .order_by(F("browser_session").asc(nulls_last=True))
    )
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


def session_upgrade(*, session: SSOSession, amr: list[str], ip: str | None = None) -> TokenPair:
    """A step-up: the same browser session (its sid, so its clients' sessions live on) now proves `amr`, as of
    now. Its grants are worked out again (apps that require a second factor may now be named) and a new token
    pair is issued; the refresh token before it is spent. Client sessions made from it keep what they had."""
    now = clock.now()
    with transaction.atomic():
        session = SSOSession.objects.select_for_update(of=("self",)).select_related("user").get(pk=session.pk)
        if session.revoked_at is not None:
            raise RefreshRejected("session ended")
        session.amr, session.acr, session.auth_time = amr, mfa.acr_for(amr), now
        _token_grants_load(session=session)
        refresh, session.refresh_jti = _refresh_issue(user=session.user, session=session)
        access = _access_token(user=session.user, session=session)
        session.last_refreshed_at = now
        session.expires_at = now + settings.REFRESH_TOKEN_LIFETIME
        session.save(
            update_fields=[
                "amr",
                "acr",
                "auth_time",
                "token_audiences",
                "token_roles",
                "refresh_jti",
                "last_refreshed_at",
                "expires_at",
            ]
        )
    logger.info("auth event=session_stepped_up sid=%s amr=%s", session.sid, ",".join(amr))
    return TokenPair(access, refresh, session, int(settings.ACCESS_TOKEN_LIFETIME.total_seconds()))
