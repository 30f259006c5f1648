"""Read-only queries the rules share (HackSoft selectors): written once, so every caller means the same."""

from .models import SSOSession


def live_session_get(*, sid: str, sub: str) -> SSOSession | None:
    """The session `sid` if it is live for the user `sub`: not revoked, its user active, and that user the
    one the token names. The one rule behind every "is this session still good" at the issuer (its API, the
    browser cookie, renewal); None otherwise."""
    session = SSOSession.objects.select_related("user").filter(sid=sid, revoked_at__isnull=True).first()
    if session is None or not session.user.is_active or str(session.user.pk) != sub:
        return None
    return session


def session_is_live(*, sid: str) -> bool:
    """Whether the session `sid` has not been revoked (for callers that already know whose it is). A user's
    deactivation revokes their sessions (issuer.signals), so this agrees with live_session_get."""
    return SSOSession.objects.filter(sid=sid, revoked_at__isnull=True).exists()
