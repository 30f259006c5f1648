"""The orders site plus a stock simplejwt configuration, used only by the benchmark: simplejwt reads
SIMPLE_JWT once at import, so its `JWTStatelessUserAuthentication` is compared with sso_client's class in a
process started with this settings module (never with override_settings). Same issuer, audience and leeway
as sso_client; the verifying key is the issuer's published key, written to a PEM file by bench/run.py."""

from pathlib import Path

from settings.env import env
from settings.orders import *  # noqa: F403
from settings.orders import INSTALLED_APPS, SSO_CLIENT, SSO_ISSUER_URL

# simplejwt imports django.contrib.auth's models, so the app must be installed; the stateless class never
# queries them (the orders database has no auth tables, and the benchmark counts queries: zero).
INSTALLED_APPS = ["django.contrib.auth", *INSTALLED_APPS]

SIMPLE_JWT = {
    "ALGORITHM": "RS256",
    "SIGNING_KEY": None,
    "VERIFYING_KEY": Path(env.str("BENCH_SIMPLEJWT_VERIFYING_KEY_FILE")).read_text(),
    "AUDIENCE": SSO_CLIENT["AUDIENCE"],
    "ISSUER": SSO_ISSUER_URL,
    "LEEWAY": SSO_CLIENT["LEEWAY_SECONDS"],
    "USER_ID_CLAIM": "sub",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
}
