"""The token inspector: what a token says (header and claims, times as dates) and whether it verifies here
and now, and if not, exactly why. Used by `manage.py inspect_token` and the staff page /inspect/.

It verifies the way the issuer does, by calling it: the issuer's own decode (token_claims_decode) with the
same backends, which pick the key (the published JWKS for RS256 tokens, the issuer-only HMAC keys for refresh
and reset tokens) and the algorithm; the session table and the service clients say what has been revoked, and
reset links are judged by issuer.services.password_reset itself. It only reads: inspecting a rotated refresh
token does not count as reusing it. Time checks have no leeway (relying apps allow SSO_LEEWAY_SECONDS more)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from django.conf import settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError

from sso_client.claims import ACCESS_REQUIRED_CLAIMS, SERVICE_REQUIRED_CLAIMS, SERVICE_SUBJECT_PREFIX
from sso_client.jws import MalformedToken

from .. import clock
from ..models import RelyingApp, ServiceClient, SSOSession
from ..selectors import live_session_get
from ..signing.tokens import (
    PASSWORD_RESET_REQUIRED_CLAIMS,
    REFRESH_REQUIRED_CLAIMS,
    access_backend,
    password_reset_backend,
    refresh_backend,
    token_claims_decode,
)
from . import password_reset

MAX_TOKEN_BYTES = 16 * 1024
TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time")

# What the issuer makes, by `token_type`: who verifies it, with which backend, and which claims it must carry.
KINDS: dict[str, dict[str, Any]] = {
    "access": {"label": "access token (a person, at relying apps)", "required": ACCESS_REQUIRED_CLAIMS},
    "service": {
        "label": "service token (a service client, at one relying app)",
        "required": SERVICE_REQUIRED_CLAIMS,
    },
    "refresh": {
        "label": "refresh token (read by the issuer only)",
        "required": REFRESH_REQUIRED_CLAIMS,
    },
    "password_reset": {
        "label": "password-reset token (read by the issuer only)",
        "required": PASSWORD_RESET_REQUIRED_CLAIMS,
    },
}


@dataclass
class Inspection:
    """The result: `valid`, else `reason` (one of a small set of phrases, then any detail after a colon)."""

    header: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    kind: str = ""
    valid: bool = False
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]["label"] if self.kind in KINDS else "unknown"

    def readable_claims(self) -> list[tuple[str, str]]:
        """Each claim as (name, text); times as ISO 8601 dates in UTC with how far from now they are."""
        return [(name, _readable(name, value)) for name, value in self.claims.items()]

    def readable_header(self) -> list[tuple[str, str]]:
        return [(name, _as_text(value)) for name, value in self.header.items()]


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "[]"
    return str(value)


def _readable(name: str, value: Any) -> str:
    if name not in TIME_CLAIMS or isinstance(value, bool) or not isinstance(value, int | float):
        return _as_text(value)
    try:
        moment = datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return f"{value} (not a date)"
    seconds = int((moment - clock.now()).total_seconds())
    distance = _duration(abs(seconds))
    relative = "now" if seconds == 0 else (f"in {distance}" if seconds > 0 else f"{distance} ago")
    return f"{value} ({moment.isoformat().replace('+00:00', 'Z')}, {relative})"


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return " ".join(part for part in [*parts, f"{seconds}s" if seconds or not any(parts) else ""] if part)


def _backend(kind: str) -> TokenBackend:
    return {
        "access": access_backend,
        "service": access_backend,
        "refresh": refresh_backend,
        "password_reset": password_reset_backend,
    }[kind]


def _audiences(kind: str, audience: str | None) -> list[str]:
    if audience:
        return [audience]
    if kind in ("refresh", "password_reset"):
        return [_backend(kind).audience]
    apps = list(RelyingApp.objects.filter(is_active=True).values_list("audience", flat=True))
    return [settings.SSO_ISSUER["AUDIENCE"], *apps] if kind == "access" else apps


# PyJWT's refusals, most specific first, in the inspector's words ({audiences}, {issuer}, {claim} filled in).
DECODE_REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (MalformedToken, "malformed: {error}"),
    (TokenBackendError, "unknown kid: {kid!r} is not among the published keys"),
    (jwt.InvalidSignatureError, "bad signature: not signed by that key (tampered, or signed by someone else)"),
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not yet valid: `nbf` or `iat` is in the future"),
    (jwt.InvalidAudienceError, "wrong audience: expected one of {audiences}"),
    (jwt.InvalidIssuerError, "wrong issuer: expected {issuer}"),
    (jwt.MissingRequiredClaimError, "missing claim: {claim}"),
    (jwt.InvalidTokenError, "invalid: {name}"),
)


def _verified_claims(raw: str, *, kind: str, header: dict[str, Any], audience: str | None) -> dict[str, Any]:
    """The signature and the registered claims, checked by the issuer's own decode (token_claims_decode, with no
    leeway here); its refusals become the inspector's reasons."""
    backend = _backend(kind)
    if header.get("alg") != backend.algorithm:
        raise _Refused(f"algorithm not allowed: {header.get('alg')!r} (a {kind} token is {backend.algorithm})")
    if backend.algorithm.startswith("RS") and not header.get("kid"):
        raise _Refused("unknown kid: the header names no key")
    audiences = _audiences(kind, audience)
    try:
        return token_claims_decode(raw, backend=backend, audience=audiences, required=KINDS[kind]["required"])
    except (MalformedToken, TokenBackendError, jwt.InvalidTokenError) as e:
        reason = next(reason for refused, reason in DECODE_REFUSALS if isinstance(e, refused))
        raise _Refused(
            reason.format(
                error=e,
                kid=header.get("kid"),
                audiences=", ".join(audiences) or "no app",
                issuer=settings.SSO_ISSUER_URL,
                claim=getattr(e, "claim", ""),
                name=type(e).__name__,
            )
        ) from e


def _why_not_live(session: SSOSession, *, sub: str) -> str:
    """Explains a verdict of issuer.selectors.live_session_get, which alone decides."""
    if session.revoked_at is not None:
        return f"revoked session: {session.get_revoked_reason_display()} at {session.revoked_at:%Y-%m-%d %H:%M:%S}Z"
    if str(session.user.pk) != sub:
        return "revoked session: the session belongs to another user"
    return "revoked session: the user is inactive"


def _check_session(claims: dict[str, Any], *, kind: str, notes: list[str]) -> None:
    session = SSOSession.objects.select_related("user").filter(sid=str(claims["sid"])).first()
    if session is None:
        raise _Refused("revoked session: no session with this sid")
    notes.append(
        f"session {session.sid} of {session.user.get_username()}, started {session.created_at:%Y-%m-%d %H:%M:%S}Z"
    )
    if live_session_get(sid=session.sid, sub=str(claims["sub"])) is None:
        raise _Refused(_why_not_live(session, sub=str(claims["sub"])))
    if kind == "refresh" and session.refresh_jti != claims["jti"]:
        raise _Refused(
            "revoked session: this refresh token was already rotated (presenting it would revoke the session)"
        )


def _check_state(raw: str, claims: dict[str, Any], *, kind: str, notes: list[str]) -> None:
    """What the signature cannot say: whether the session, the client or the link is still good."""
    if kind in ("access", "refresh"):
        _check_session(claims, kind=kind, notes=notes)
    elif kind == "service":
        if "sid" in claims:
            raise _Refused("wrong type: a service token never carries a session")
        sub = str(claims["sub"])
        client = ServiceClient.objects.filter(client_id=sub.removeprefix(SERVICE_SUBJECT_PREFIX)).first()
        if not sub.startswith(SERVICE_SUBJECT_PREFIX) or client is None:
            raise _Refused("revoked: no service client with this sub")
        notes.append(f"service client {client.client_id}, scopes: {claims.get('scope') or '(none)'}")
        if not client.is_active:
            raise _Refused("revoked: the service client is deactivated")
    elif kind == "password_reset":
        try:
            grant = password_reset.password_reset_token_check(raw_token=raw)
        except password_reset.ResetLinkInvalid as e:
            raise _Refused(f"revoked: reset link {e.reason}") from e
        notes.append(f"resets the password of {grant.user.get_username()}")


def token_inspect(raw: str, *, audience: str | None = None, expected_type: str | None = None) -> Inspection:
    """Read a token and judge it. `audience` checks for one app (default: any app this issuer knows);
    `expected_type` says what the token is meant to be (default: what it claims to be)."""
    raw = raw.strip()
    inspection = Inspection()
    if len(raw) > MAX_TOKEN_BYTES:
        inspection.reason = f"malformed: longer than {MAX_TOKEN_BYTES} bytes"
        return inspection
    try:
        inspection.header = jwt.get_unverified_header(raw)
        inspection.claims = jwt.decode(raw, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        inspection.reason = "malformed: not a JWT (three base64url parts: a JSON header, JSON claims, a signature)"
        return inspection
    token_type = inspection.claims.get("token_type")
    inspection.kind = token_type if isinstance(token_type, str) and token_type in KINDS else ""
    try:
        if expected_type and token_type != expected_type:
            raise _Refused(f"wrong type: it is {token_type!r}, expected {expected_type!r}")
        if not inspection.kind:
            raise _Refused(f"wrong type: {token_type!r} is not a token type this issuer makes")
        claims = _verified_claims(raw, kind=inspection.kind, header=inspection.header, audience=audience)
        _check_state(raw, claims, kind=inspection.kind, notes=inspection.notes)
    except _Refused as e:
        inspection.reason = e.reason
        return inspection
    inspection.valid = True
    return inspection
