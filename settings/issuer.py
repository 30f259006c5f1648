"""The issuer: users, roles, app access, SSO sessions, signing keys. The only site that can sign."""

from datetime import timedelta

from .base import *  # noqa: F403
from .base import (
    DATA_DIR,
    INSTALLED_APPS,
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
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    *INSTALLED_APPS,
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "issuer",
]

MIDDLEWARE = [
    *MIDDLEWARE[:4],
    "django.contrib.sessions.middleware.SessionMiddleware",
    *MIDDLEWARE[4:],
    "django.contrib.auth.middleware.AuthenticationMiddleware",
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

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["issuer.authentication.IssuerAccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

ACCESS_TOKEN_LIFETIME = timedelta(seconds=env.int("SSO_ACCESS_TOKEN_SECONDS", default=300))
REFRESH_TOKEN_LIFETIME = timedelta(seconds=env.int("SSO_REFRESH_TOKEN_SECONDS", default=14 * 24 * 3600))

# simplejwt builds and checks the token objects; issuer.tokens supplies the keyed RS256 backend per token
# class, so ALGORITHM/SIGNING_KEY here only describe the stock backend, which nothing uses to sign.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": REFRESH_TOKEN_LIFETIME,
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "RS256",
    "SIGNING_KEY": None,
    "ISSUER": SSO_ISSUER_URL,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "LEEWAY": 0,
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
}

SSO_ISSUER = {
    # The issuer's own audience: its API (sessions, logout) accepts access tokens that name it.
    "AUDIENCE": "sso",
    # A PEM file supplied by the deployment; when set, it is the active signing key.
    "SIGNING_KEY_FILE": env.str("SSO_SIGNING_KEY_FILE", default=""),
    # Private keys kept in the database are encrypted (PKCS#8) with this passphrase.
    "KEY_PASSPHRASE": env.str("SSO_KEY_PASSPHRASE", default="") or SECRET_KEY,
    "RSA_KEY_BITS": 2048,
    "JWKS_MAX_AGE": env.int("SSO_JWKS_MAX_AGE", default=300),
}

LOGIN_URL = "/login/"
SESSION_COOKIE_NAME = "sso_issuer_session"
DATA_DIR.mkdir(parents=True, exist_ok=True)
# How many reverse proxies in front of the issuer append to X-Forwarded-For (0: trust none of it).
SSO_TRUSTED_PROXY_COUNT = env.int("SSO_TRUSTED_PROXY_COUNT", default=0)
# Used only by `manage.py seed_demo` (make run); production never seeds demo accounts.
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="sso-demo-password")
