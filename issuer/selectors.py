"""Read-only queries the rules share (HackSoft selectors): written once, so every caller means the same."""

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError
from django.db.models import Q, QuerySet

from . import clock
from .http import origin_of
from .models import RelyingApp, SSOSession

logger = logging.getLogger(__name__)


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


def user_sessions_live(*, user: AbstractBaseUser) -> QuerySet[SSOSession]:
    """The user's sessions neither revoked nor expired, newest first: what the account page and
    `/api/sessions/` list."""
    return (
        SSOSession.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=clock.now())
        .select_related("client")
        .order_by("-created_at", "-pk")
    )


def user_audiences(*, user: AbstractBaseUser) -> list[str]:
    """The audiences of every active relying app the user may use (superusers: all of them)."""
    apps = RelyingApp.objects.filter(is_active=True)
    if not user.is_superuser:
        apps = apps.filter(Q(users=user) | Q(groups__in=user.groups.all())).distinct()
    return sorted(apps.values_list("audience", flat=True))


def user_roles(*, user: AbstractBaseUser) -> list[str]:
    """The user's roles: the names of their groups, as access tokens carry them."""
    return sorted(user.groups.values_list("name", flat=True))


@dataclass(frozen=True)
class ClientOrigins:
    """The origins the registered clients stand for, read from the clients themselves, so registering a site
    (the admin or `create_client`) is all the issuer needs: no environment variable, no restart, no wait."""

    # Every origin an active client registered (its origin, redirect and post-logout redirect URIs): where a
    # browser may be sent after signing in or out, and where the issuer's forms may lead (CSP form-action).
    pages: frozenset[str] = frozenset()
    # First-party active clients' own origins: their script may call the issuer with the person's cookies
    # (CORS, and the cookie-renewal endpoint's Origin check). A third-party client's page never may: it would
    # get the person's access token without their consent.
    scripts: frozenset[str] = frozenset()


# The last origins read, kept for a response made while the database is down (the 503 page).
_client_origins = ClientOrigins()


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return origin_of(url) if parts.scheme in ("http", "https") and parts.netloc else None


def client_origins() -> ClientOrigins:
    """The registered clients' origins now (one query)."""
    global _client_origins
    try:
        rows = list(
            RelyingApp.objects.filter(is_active=True).values_list(
                "origin", "redirect_uris", "post_logout_redirect_uris", "is_first_party"
            )
        )
    except DatabaseError:
        logger.warning("clients event=client_origins_unavailable")
        return _client_origins
    pages = {
        origin
        for own, redirect_uris, post_logout_uris, _ in rows
        for uri in [own, *redirect_uris.split(), *post_logout_uris.split()]
        if (origin := _origin(uri))
    }
    scripts = {origin for own, _, _, first_party in rows if first_party and (origin := _origin(own))}
    _client_origins = ClientOrigins(frozenset(pages), frozenset(scripts))
    return _client_origins
