"""What every relying app shares: verify-only SSO configuration. No private key, no user table."""

from urllib.parse import urlsplit

from .base import *  # noqa: F403
from .base import (
    EXTRA_RELYING_ORIGINS,
    HTTPS,
    INSTALLED_APPS,
    ORDERS_URL,
    PRODUCTS_URL,
    REST_FRAMEWORK,
    SSO_ISSUER_URL,
    SSO_READINESS_CHECKS,
    env,
    env_required,
)

# webguard: the production checks of this repository's relying sites (webguard.checks).
INSTALLED_APPS = [*INSTALLED_APPS, "sso_client", "webguard"]

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

# What the environment may change in sso_client's defaults (sso_client.conf.DEFAULTS lists and explains every
# key); each relying site adds its own "AUDIENCE".
SSO_CLIENT = {
    "ISSUER": SSO_ISSUER_URL,
    # Where this process reaches the issuer, when that differs from its public URL (a private network).
    "ISSUER_INTERNAL_URL": env.str("SSO_ISSUER_INTERNAL_URL", default="") or SSO_ISSUER_URL,
    "LEEWAY_SECONDS": env.int("SSO_LEEWAY_SECONDS", default=30),
    "REVOCATION_REFRESH_SECONDS": env.float("SSO_REVOCATION_REFRESH_SECONDS", default=5.0),
    "JWKS_MIN_REFETCH_SECONDS": env.float("SSO_JWKS_MIN_REFETCH_SECONDS", default=10.0),
    "JWKS_MAX_AGE_SECONDS": env.int("SSO_JWKS_MAX_AGE_SECONDS", default=300),
    "HTTP_TIMEOUT_SECONDS": env.float("SSO_HTTP_TIMEOUT_SECONDS", default=3.0),
    # "cookie" (the shared parent-domain cookie) or "oidc" (any domain: this site is an OpenID Connect client
    # of the issuer). Each site's module sets CLIENT_ID to its audience unless SSO_CLIENT_ID names another.
    "MODE": env.str("SSO_CLIENT_MODE", default="") or "cookie",
    "CLIENT_ID": env.str("SSO_CLIENT_ID", default="") or None,
    # Dev: the secret seed_demo gives the demo clients (DEMO_CLIENT_SECRET at the issuer). No default in production.
    "CLIENT_SECRET": env_required("SSO_CLIENT_SECRET")
    if HTTPS and env.str("SSO_CLIENT_MODE", default="") == "oidc"
    else env.str("SSO_CLIENT_SECRET", default="") or "demo-client-secret",
    "ACCESS_TOKEN_SECONDS": env.int("SSO_ACCESS_TOKEN_SECONDS", default=300),
    # The relying apps every relying page links to (those the person's token names in `aud`); a further
    # origin (SSO_EXTRA_RELYING_ORIGINS) is named by its host and always listed.
    "APPS": [
        {"audience": "orders", "name": "Orders", "url": ORDERS_URL},
        {"audience": "products", "name": "Products", "url": PRODUCTS_URL},
        *({"audience": "", "name": urlsplit(origin).hostname, "url": origin} for origin in EXTRA_RELYING_ORIGINS),
    ],
}

# /readyz also needs the issuer's keys and a revocation list at most this old (sso_client.readiness); /metrics
# adds the ages of both copies and the verified cache's size at each scrape (sso_client.metrics).
SSO_READY_MAX_REVOCATION_AGE_SECONDS = env.int("SSO_READY_MAX_REVOCATION_AGE_SECONDS", default=30)
SSO_READINESS_CHECKS = [*SSO_READINESS_CHECKS, "sso_client.readiness.issuer_state_ready"]
SSO_METRICS_COLLECTORS = ["sso_client.metrics.IssuerStateCollector"]
