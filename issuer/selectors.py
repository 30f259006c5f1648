"""Read-only queries the rules share (HackSoft selectors): written once, so every caller means the same."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from .models import RelyingApp, SSOSession


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


def user_audiences(*, user: AbstractBaseUser) -> list[str]:
    """The audiences of every active relying app the user may use (superusers: all of them)."""
    apps = RelyingApp.objects.filter(is_active=True)
    if not user.is_superuser:
        apps = apps.filter(Q(users=user) | Q(groups__in=user.groups.all())).distinct()
    return sorted(apps.values_list("audience", flat=True))


def user_roles(*, user: AbstractBaseUser) -> list[str]:
    """The user's roles: the names of their groups, as access tokens carry them."""
    return sorted(user.groups.values_list("name", flat=True))
