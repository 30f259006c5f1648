"""The issuer: users, roles, app access, SSO sessions, signing keys. The only site that can sign."""

import os
from datetime import timedelta

from .base import *  # noqa: F403
from .base import (
    DATA_DIR,
    HTTPS,
    INSTALLED_APPS,
    LOGGING,
    MIDDLEWARE,
    REST_FRAMEWORK,
    SECRET_KEY,
    SSO_ISSUER_URL,
    TEMPLATES,
    env,
    site_caches,
    site_databases,
)

SITE_NAME = "issuer"
ROOT_URLCONF = "issuer.urls"
DATABASES = site_databases("issuer")
CACHES = site_caches("issuer")

INSTALLED_APPS = [
    # First, so its admin/base_site.html (the inspector link, the icon) is the one the admin renders.
    "issuer",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    *INSTALLED_APPS,
    "rest_framework_simplejwt",
]

MIDDLEWARE = [
    *MIDDLEWARE[:5],
    "django.contrib.sessions.middleware.SessionMiddleware",
    *MIDDLEWARE[5:],
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "issuer.middleware.AdminSessionFollowsSSOSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES[0]["OPTIONS"]["context_processors"] += [
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Argon2id first (issuer.hashers): new passwords, the dummy hash for unknown usernames, and the rehash of an
# older hash on its next successful sign-in. PBKDF2 stays to read the hashes made before.
PASSWORD_HASHERS = [
    "issuer.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["issuer.authentication.IssuerAccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

ACCESS_TOKEN_LIFETIME = timedelta(seconds=env.int("SSO_ACCESS_TOKEN_SECONDS", default=300))
REFRESH_TOKEN_LIFETIME = timedelta(seconds=env.int("SSO_REFRESH_TOKEN_SECONDS", default=14 * 24 * 3600))

# simplejwt builds and checks the token objects and reads only these; issuer.signing.tokens supplies each token
# class's backend (key, algorithm, issuer, leeway), and none of simplejwt's views or authentication is used.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": REFRESH_TOKEN_LIFETIME,
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
}

SSO_ISSUER = {
    # The issuer's own audience: its account API (sessions, logout) accepts access tokens naming it alone,
    # issued only when /api/token/ is asked for it ("audience": "sso"); default tokens never name it.
    "AUDIENCE": "sso",
    # A PEM file supplied by the deployment; when set, it is the active signing key.
    "SIGNING_KEY_FILE": env.str("SSO_SIGNING_KEY_FILE", default=""),
    # Private keys kept in the database are encrypted (PKCS#8) with this passphrase.
    "KEY_PASSPHRASE": env.str("SSO_KEY_PASSPHRASE", default="") or SECRET_KEY,
    "RSA_KEY_BITS": 2048,
    "JWKS_MAX_AGE": env.int("SSO_JWKS_MAX_AGE", default=300),
    # A back-channel logout that failed is retried by the issuer process itself when its retry is due within
    # this many seconds (issuer.services.backchannel); later ones by the next sign-out or the cron command.
    "BACKCHANNEL_RETRY_WAIT_SECONDS": env.int("SSO_BACKCHANNEL_RETRY_WAIT_SECONDS", default=150),
}

# Authlib (the OpenID Connect provider) refuses plain http except on loopback. The dev origins are plain http by
# design, subdomain and cross-domain names included (sso.example.test); with HTTPS origins (production) the check
# stays on (behind a proxy, SECURE_PROXY_SSL_HEADER gives requests their https scheme).
if not HTTPS:
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

# Sign-in, consent and sign-out forms redirect to the registered clients' URIs, on any domain: the
# Content-Security-Policy's form-action lists their origins, read from the clients themselves.
SSO_CSP_FORM_ACTION_ORIGINS = "issuer.services.oauth_clients.registered_client_origins"
# Script on a registered first-party client's origin may call the token API and the cookie-renewal endpoint
# (CORS), beside the configured origins: registering the site is all it takes.
SSO_CORS_EXTRA_ORIGINS = "issuer.services.oauth_clients.script_client_origins"

LOGIN_URL = "/login/"
# Over HTTPS the issuer's own cookies carry the __Host- prefix: browsers then refuse any cookie of that name
# that a sibling subdomain sets on the parent domain ("cookie tossing": planting its own refresh token would
# sign the victim in as the attacker). The prefix requires Path=/, so the refresh cookie is not path-limited
# in production; in dev (plain http, where the prefix is not available) it stays on /session/.
HOST_COOKIE_PREFIX = "__Host-" if HTTPS else ""
SESSION_COOKIE_NAME = f"{HOST_COOKIE_PREFIX}sso_issuer_session"
# Each site has its own CSRF cookie and trusts only its own origin for unsafe requests: on localhost the sites
# share cookies across ports, and in production a sibling subdomain must not pass this site's CSRF check.
CSRF_COOKIE_NAME = f"{HOST_COOKIE_PREFIX}sso_issuer_csrftoken"
CSRF_TRUSTED_ORIGINS = [SSO_ISSUER_URL]
# A refused form says so on the issuer's own notice page, not Django's bare 403.
CSRF_FAILURE_VIEW = "issuer.views.pages.csrf_failure"
# Browser sign-on (issuer/views/pages.py, issuer/services/browser.py). The access cookie is the one every relying app reads
# (SSO_CLIENT["ACCESS_COOKIE_NAME"]), on SSO_COOKIE_DOMAIN. The refresh cookie is read only here: host-only,
# and sent only to the paths under REFRESH_COOKIE_PATH, which renew or end the session.
SSO_BROWSER = {
    "ACCESS_COOKIE_NAME": "sso_access",
    "REFRESH_COOKIE_NAME": f"{HOST_COOKIE_PREFIX}sso_refresh",
    "REFRESH_COOKIE_PATH": "/" if HTTPS else "/session/",
    "RENEWALS_COOKIE_NAME": f"{HOST_COOKIE_PREFIX}sso_renewals",
}
# A rotated refresh token presented again this soon after its rotation, before the token that replaced it was
# used, is its own client retrying (an answer lost to a timeout, two tabs or a page and its script racing),
# not a replay: it gets its rotation's pair again instead of revoking the session (issuer.services.sessions).
SSO_REFRESH_RETRY_GRACE_SECONDS = 10
# Script clients: the token API and the cookie-renewal endpoint answer the configured origins (CORS_ALLOWED_ORIGINS).
CORS_URLS_REGEX = r"^/(api/.*|session/token/)$"
DATA_DIR.mkdir(parents=True, exist_ok=True)
# Failed sign-ons allowed per username and per client address in each window (issuer.services.throttles), in the cache.
SSO_LOGIN_THROTTLE = {
    "FAILURES_PER_USERNAME": env.int("SSO_LOGIN_FAILURES_PER_USERNAME", default=5),
    "FAILURES_PER_IP": env.int("SSO_LOGIN_FAILURES_PER_IP", default=30),
    "WINDOW_SECONDS": env.int("SSO_LOGIN_THROTTLE_SECONDS", default=600),
}
# Password hashing per process (issuer.services.credentials.hashing_slot): CONCURRENCY hashes at once (half of
# gunicorn's threads by default), QUEUE more sign-ins waiting up to WAIT_SECONDS for a slot (by default all but
# one of the remaining threads), any further sign-in answered 503 with Retry-After at once: during a sign-in
# storm at least one thread is always free for refreshes, the JWKS and the revocation list.
_THREADS = env.int("GUNICORN_THREADS", default=4)
_HASHING_CONCURRENCY = env.int("SSO_PASSWORD_HASHING_CONCURRENCY", default=max(1, _THREADS // 2))
SSO_PASSWORD_HASHING = {
    "CONCURRENCY": _HASHING_CONCURRENCY,
    "QUEUE": env.int("SSO_PASSWORD_HASHING_QUEUE", default=max(0, _THREADS - _HASHING_CONCURRENCY - 1)),
    "WAIT_SECONDS": env.float("SSO_PASSWORD_HASHING_WAIT_SECONDS", default=1.0),
}
# Second factors (issuer.services.totp, mfa). Authenticator-app secrets are encrypted with this Fernet key
# (`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`); unset, it is
# derived from DJANGO_SECRET_KEY with HKDF, like SSO_KEY_PASSPHRASE (then rotating the secret key without a
# fallback makes every enrolled app unreadable: set it in production). Staff need a second factor for every
# app and the admin when SSO_MFA_REQUIRED_FOR_STAFF is set.
SSO_MFA_ENCRYPTION_KEY = env.str("SSO_MFA_ENCRYPTION_KEY", default="")
SSO_MFA_REQUIRED_FOR_STAFF = env.bool("SSO_MFA_REQUIRED_FOR_STAFF", default=False)
# Used only by `manage.py seed_demo` (make run); production never seeds demo accounts.
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="sso-demo-password")
# The secret `seed_demo` gives the demo service client `orders` (orders reads it as ORDERS_SERVICE_CLIENT_SECRET).
DEMO_SERVICE_SECRET = env.str("DEMO_SERVICE_SECRET", default="sso-demo-service-secret")
# The secret `seed_demo` gives the OpenID Connect clients orders and products when they have none yet (each site
# reads it as SSO_CLIENT_SECRET).
DEMO_CLIENT_SECRET = env.str("DEMO_CLIENT_SECRET", default="demo-client-secret")

# Service tokens (client credentials). Short-lived: a service token is revoked by deactivating its client,
# which stops new ones at once and leaves the ones already issued to expire within this lifetime.
SSO_SERVICE_TOKEN_LIFETIME = timedelta(seconds=env.int("SSO_SERVICE_TOKEN_SECONDS", default=300))
# A password-reset link works once, for this long.
PASSWORD_RESET_TOKEN_LIFETIME = timedelta(minutes=15)

# Outgoing mail (password-reset links). Dev prints messages to the console; production sets an SMTP backend.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# Password-reset mail is sent after the answer, so its timing cannot tell which addresses have accounts.
SSO_PASSWORD_RESET_MAIL_IN_BACKGROUND = True
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# Where the file-based backend (django.core.mail.backends.filebased.EmailBackend) writes messages.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default="") or str(DATA_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="sso@localhost")

# Admin messages (which show a new service-client secret once) stay in the server-side session, not in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Django's request loggers name the path of a refused request, and a failing password-reset link's path holds
# its token: masked there (webguard.log_masking), as gunicorn's access log masks it.
LOGGING = {
    **LOGGING,
    "filters": {**LOGGING["filters"], "reset_tokens": {"()": "webguard.log_masking.ResetTokenFilter"}},
    "loggers": {
        name: {**config, "filters": [*config.get("filters", []), "reset_tokens"]}
        for name, config in LOGGING["loggers"].items()
    },
}
# /metrics adds the signing keys by state at each scrape (webguard.metrics).
SSO_METRICS_COLLECTORS = ["issuer.metrics.SigningKeysCollector"]
