"""What every relying app shares: verify-only SSO configuration. No private key, no user table."""

from urllib.parse import urlsplit

from .base import *  # noqa: F403
from .base import EXTRA_RELYING_ORIGINS, INSTALLED_APPS, ORDERS_URL, PRODUCTS_URL, REST_FRAMEWORK, SSO_ISSUER_URL, env

INSTALLED_APPS = [*INSTALLED_APPS, "sso_client"]

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["sso_client.authentication.SSOAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["sso_client.permissions.IsSSOAuthenticated"],
    # The browsable API shows who is signed in; a browser without a valid cookie is sent to the issuer.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "sso_client.renderers.SSOBrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "sso_client.browser.browser_exception_handler",
    # Docstrings shown as paragraphs with `code` as code, not as literal backticks.
    "VIEW_DESCRIPTION_FUNCTION": "sso_client.renderers.view_description",
}

# Each relying site sets SSO_CLIENT["AUDIENCE"] to its own audience.
SSO_CLIENT = {
    "ISSUER": SSO_ISSUER_URL,
    # Where this process reaches the issuer, when that differs from its public URL (a private network).
    "ISSUER_INTERNAL_URL": env.str("SSO_ISSUER_INTERNAL_URL", default="") or SSO_ISSUER_URL,
    "AUDIENCE": None,
    "ALGORITHMS": ["RS256"],
    "LEEWAY_SECONDS": env.int("SSO_LEEWAY_SECONDS", default=30),
    # How often the revoked-session list is refreshed: the revocation window at this app.
    "REVOCATION_REFRESH_SECONDS": env.float("SSO_REVOCATION_REFRESH_SECONDS", default=5.0),
    # An unknown kid triggers at most one JWKS fetch per this many seconds.
    "JWKS_MIN_REFETCH_SECONDS": env.float("SSO_JWKS_MIN_REFETCH_SECONDS", default=10.0),
    # A JWKS copy this old is refetched in the background of the next request that needs it.
    "JWKS_MAX_AGE_SECONDS": env.int("SSO_JWKS_MAX_AGE_SECONDS", default=300),
    "HTTP_TIMEOUT_SECONDS": env.float("SSO_HTTP_TIMEOUT_SECONDS", default=3.0),
    "HTTP_MAX_BYTES": 256 * 1024,
    # The revocation list grows with sign-outs (about 25 bytes a session, kept ~7 minutes): room for
    # 160,000, so a burst of revocations (one user ending thousands of sessions) cannot push it past the
    # limit and freeze every app on its last good list.
    "REVOCATION_MAX_BYTES": 4 * 1024 * 1024,
    "ACCESS_COOKIE_NAME": "sso_access",
    "VERIFIED_CACHE_SIZE": 4096,
    # The relying apps every relying page links to (those the person's token names in `aud`); a further
    # origin (SSO_EXTRA_RELYING_ORIGINS) is named by its host and always listed.
    "APPS": [
        {"audience": "orders", "name": "Orders", "url": ORDERS_URL},
        {"audience": "products", "name": "Products", "url": PRODUCTS_URL},
        *({"audience": "", "name": urlsplit(origin).hostname, "url": origin} for origin in EXTRA_RELYING_ORIGINS),
    ],
}
