"""sso_client's settings: `settings.SSO_CLIENT` over the defaults, merged once and re-merged whenever the
setting changes (override_settings and pytest-django's `settings` fixture send `setting_changed`)."""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    "ISSUER": None,
    "ISSUER_INTERNAL_URL": None,
    "AUDIENCE": None,
    "ALGORITHMS": ["RS256"],
    "LEEWAY_SECONDS": 30,
    # How often the revoked-session list is refreshed: the revocation window at this app.
    "REVOCATION_REFRESH_SECONDS": 5.0,
    # An unknown kid triggers at most one JWKS fetch per this many seconds.
    "JWKS_MIN_REFETCH_SECONDS": 10.0,
    # A JWKS copy this old is refetched in the background of the next request that needs it.
    "JWKS_MAX_AGE_SECONDS": 300,
    "HTTP_TIMEOUT_SECONDS": 3.0,
    "HTTP_MAX_BYTES": 256 * 1024,
    # The revocation list grows with sign-outs (about 25 bytes a session, kept ~7 minutes): room for
    # 160,000, so a burst of revocations (one user ending thousands of sessions) cannot push it past the
    # limit and freeze every app on its last good list.
    "REVOCATION_MAX_BYTES": 4 * 1024 * 1024,
    "ACCESS_COOKIE_NAME": "sso_access",
    "VERIFIED_CACHE_SIZE": 4096,
    "MAX_TOKEN_BYTES": 8192,
    "BACKGROUND_REFRESH": True,
    # Browser sign-on at the issuer (sso_client.browser): where a browser without a valid access cookie is
    # sent (the issuer renews the cookie from its refresh cookie, or shows its login page), and the sign-out page.
    "SIGN_IN_PATH": "/session/renew/",
    "SIGN_OUT_PATH": "/logout/",
    # The site's name on its pages (the audience when unset).
    "SITE_NAME": None,
    # Who request.user is for plain Django views (sso_client.middleware): the stateless SSOUser, or a local
    # auth.User linked by the token (sso_client.backends.LocalUserBackend, or a subclass of it).
    "USER_BACKEND": "sso_client.backends.SSOUserBackend",
    # This site calling other services as itself (sso_client.service_calls.ServiceTokenAuth).
    "SERVICE_CLIENT_ID": None,
    "SERVICE_CLIENT_SECRET": None,
    # The relying apps a relying page links to: [{"audience", "name", "url"}] (sso_client.pages).
    "APPS": [],
    # "cookie": the issuer's access cookie, shared under a parent domain (SSO_COOKIE_DOMAIN). "oidc": any
    # domain; this site signs the browser in through the issuer's authorization code flow with PKCE and keeps
    # its own host-only cookies (sso_client.oidc, sso_client.oidc_views).
    "MODE": "cookie",
    "CLIENT_ID": None,
    "CLIENT_SECRET": None,
    "SCOPES": "openid profile email offline_access",
    # The longest an access token of the issuer lives: how long a session ended by back-channel logout is
    # remembered, so every token of it is refused until the last one has expired anyway.
    "ACCESS_TOKEN_SECONDS": 300,
    # oidc mode: the refresh cookie (and the ID token kept for logout) on path /sso/, and the sign-in in flight.
    "REFRESH_COOKIE_NAME": "sso_refresh",
    "ID_TOKEN_COOKIE_NAME": "sso_id_token",
    "REFRESH_COOKIE_SECONDS": 14 * 24 * 3600,
    "FLOW_COOKIE_NAME": "sso_flow",
    "FLOW_SECONDS": 600,
}

_merged: Mapping[str, Any] | None = None


def sso_settings() -> Mapping[str, Any]:
    """The effective settings, read-only. Every request reads them, so they are merged once, not per call."""
    global _merged
    merged = _merged
    if merged is None:
        merged = _merged = MappingProxyType({**DEFAULTS, **getattr(settings, "SSO_CLIENT", {})})
    return merged


@receiver(setting_changed)
def _forget_merged_settings(*, setting: str, **kwargs: Any) -> None:
    global _merged
    if setting == "SSO_CLIENT":
        _merged = None


def oidc_mode() -> bool:
    """Whether this site signs browsers in through OpenID Connect (any domain) rather than the shared cookie."""
    return sso_settings()["MODE"] == "oidc"


def issuer_fetch_base() -> str:
    """Where this process reaches the issuer (its internal URL if one is set, else its public URL)."""
    conf = sso_settings()
    return (conf["ISSUER_INTERNAL_URL"] or conf["ISSUER"]).rstrip("/")
