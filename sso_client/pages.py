"""What every relying page shows around its content: which app this is, who is signed in, the way back to
the issuer's home and on to the other apps this person may use, and, for the page's renewal script
(static/sso_client/renew.js), how long the access cookie has left."""

from typing import Any

from . import clock
from .browser import sign_in_url, sign_out_url, token_url
from .conf import oidc_mode, sso_settings
from .user import SSOUser

# The script renews the cookie when this share of its lifetime is left (a minute of five).
RENEW_WHEN_LEFT = 0.2


def site_name() -> str:
    """What this site calls itself on its pages: SSO_CLIENT["SITE_NAME"], else its audience."""
    conf = sso_settings()
    return conf["SITE_NAME"] or conf["AUDIENCE"] or ""


def issuer_home() -> str:
    return sso_settings()["ISSUER"].rstrip("/") + "/"


def other_apps(user: SSOUser | None) -> list[dict[str, str]]:
    """The configured relying apps other than this one that the token names in `aud` (an app with no
    audience configured, a further origin, is always listed: only that app can say no)."""
    if user is None:
        return []
    here = sso_settings()["AUDIENCE"]
    return [
        {"name": app["name"], "url": app["url"].rstrip("/") + "/"}
        for app in sso_settings()["APPS"]
        if app["audience"] != here and (not app["audience"] or app["audience"] in user.audiences)
    ]


def renewal_config(request: Any) -> dict[str, Any] | None:
    """When the cookie that authenticated this page expires, for the renewal script; None for a Bearer
    token (a script's, which renews its own) or no token."""
    claims = getattr(getattr(request, "auth", None), "claims", None)
    if not claims or "HTTP_AUTHORIZATION" in request.META:
        return None
    lifetime = max(1, int(claims["exp"]) - int(claims["iat"]))
    return {
        "tokenUrl": token_url(),
        "expiresIn": max(0, int(claims["exp"] - clock.now())),
        "lifetime": lifetime,
        "renewWhenLeft": RENEW_WHEN_LEFT,
    }


def page_context(request: Any) -> dict[str, Any]:
    """The bar's context: `request` is a DRF request (or a Django one with `user` and `auth` set)."""
    user = getattr(request, "user", None)
    user = user if isinstance(user, SSOUser) else None
    return {
        "sso_site_name": site_name(),
        "sso_user": user,
        "sso_issuer_home": issuer_home(),
        "sso_other_apps": other_apps(user),
        "sso_sign_in_url": sign_in_url(request),
        "sso_sign_out_url": sign_out_url(request),
        "sso_sign_out_post": oidc_mode(),
        "sso_session": renewal_config(request) if user is not None else None,
    }
