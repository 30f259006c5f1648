"""sso_client's settings, read from `settings.SSO_CLIENT` at call time."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "ISSUER": None,
    "ISSUER_INTERNAL_URL": None,
    "AUDIENCE": None,
    "ALGORITHMS": ["RS256"],
    "LEEWAY_SECONDS": 30,
    "REVOCATION_REFRESH_SECONDS": 5.0,
    "JWKS_MIN_REFETCH_SECONDS": 10.0,
    "JWKS_MAX_AGE_SECONDS": 300,
    "HTTP_TIMEOUT_SECONDS": 3.0,
    "HTTP_MAX_BYTES": 256 * 1024,
    "ACCESS_COOKIE_NAME": "sso_access",
    "VERIFIED_CACHE_SIZE": 4096,
    "MAX_TOKEN_BYTES": 8192,
    "BACKGROUND_REFRESH": True,
}


def sso_settings() -> dict[str, Any]:
    return {**DEFAULTS, **getattr(settings, "SSO_CLIENT", {})}


def issuer_fetch_base() -> str:
    """Where this process reaches the issuer (its internal URL if one is set, else its public URL)."""
    conf = sso_settings()
    return (conf["ISSUER_INTERNAL_URL"] or conf["ISSUER"]).rstrip("/")
