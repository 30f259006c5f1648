"""What every site shares. Dev and production differ only through environment variables."""

from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from .env import BASE_DIR, env, env_networks, env_required

SITE_NAME = "base"  # each site module overrides this

SSO_ISSUER_URL = env.str("SSO_ISSUER_URL", default="http://localhost:8000").rstrip("/")
ORDERS_URL = env.str("ORDERS_URL", default="http://localhost:8001").rstrip("/")
PRODUCTS_URL = env.str("PRODUCTS_URL", default="http://localhost:8002").rstrip("/")
# Parent domain for the access cookie (".example.com"); empty means host-only, right for localhost.
SSO_COOKIE_DOMAIN = env.str("SSO_COOKIE_DOMAIN", default="") or None

# A further relying app adds its origin here (comma-separated), so every site's allowed hosts, CORS and the
# issuer's redirect allowlist include it without a code change.
EXTRA_RELYING_ORIGINS = [origin.rstrip("/") for origin in env.list("SSO_EXTRA_RELYING_ORIGINS", default=[])]

RELYING_ORIGINS = [ORDERS_URL, PRODUCTS_URL, *EXTRA_RELYING_ORIGINS]
SITE_ORIGINS = [SSO_ISSUER_URL, *RELYING_ORIGINS]

# HTTPS origins mean a production deployment: secure cookies, HSTS and HTTPS redirects follow from that,
# so there is no separate "prod" switch to forget.
HTTPS = all(origin.startswith("https://") for origin in SITE_ORIGINS)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
if HTTPS:
    SECRET_KEY = env_required("DJANGO_SECRET_KEY")
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-secret-key-never-use-over-https")

ALLOWED_HOSTS = sorted(
    {urlsplit(origin).hostname for origin in SITE_ORIGINS} | set(env.list("DJANGO_EXTRA_HOSTS", default=[]))
)
if not HTTPS:
    ALLOWED_HOSTS += ["localhost", "127.0.0.1", "testserver"]
CSRF_TRUSTED_ORIGINS = list(SITE_ORIGINS)

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
]

MIDDLEWARE = [
    "webguard.request_id.RequestIdMiddleware",  # first: every log line of the request carries its id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "webguard.security.CorsMiddleware",
    # Outside every middleware that may touch the database (sessions, authentication): an outage anywhere
    # inside is a 503, not a 500. Inside the ones whose headers every answer needs.
    "webguard.unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "webguard.security.SecurityHeadersMiddleware",
    "webguard.security.RequestSizeLimitMiddleware",
    "webguard.operations.OperationsMiddleware",  # /healthz, /readyz, /metrics
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
            ],
        },
    }
]

WSGI_APPLICATION = "settings.wsgi.application"

DATA_DIR = Path(env.str("SSO_DATA_DIR", default=str(BASE_DIR / "var")))
REDIS_URL = env.str("REDIS_URL", default="")


def site_databases(site: str) -> dict:
    """Each site owns its database: `<SITE>_DATABASE_URL`, else `DATABASE_URL`, else SQLite under var/."""
    default_url = env.str("DATABASE_URL", default=f"sqlite:///{DATA_DIR / (site + '.sqlite3')}")
    database = env.db_url(f"{site.upper()}_DATABASE_URL", default=default_url)
    if database["ENGINE"].endswith("sqlite3"):
        # Concurrent test servers and dev processes share the file; wait for the lock rather than fail.
        # WAL: readers do not wait for a writer, and a durable commit costs one fsync instead of several.
        database.setdefault("OPTIONS", {}).update(
            {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
        )
    else:
        database["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
        database["CONN_HEALTH_CHECKS"] = True
    return {"default": database}


def redis_cache(url: str) -> dict:
    """Redis as a cache that may go away: a miss while it is unreachable (sso_client.cache), and short socket
    timeouts, so a Redis that hangs holds a request for a second at most, not until gunicorn kills the worker."""
    return {
        "BACKEND": "sso_client.cache.TolerantRedisCache",
        "LOCATION": url,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
    }


def site_caches(site: str) -> dict:
    """Redis when `REDIS_URL` is set (shared by every process of a site), local memory otherwise."""
    if REDIS_URL:
        backend = redis_cache(REDIS_URL)
    else:
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": site}
    # CACHE_KEY_PREFIX separates deployments that share one Redis database.
    return {"default": {**backend, "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="") + site}}


DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False

STATIC_URL = "/static/"
# Production serves what collectstatic gathered; dev serves straight from the apps (no STATIC_ROOT needed).
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))) if HTTPS else None
WHITENOISE_USE_FINDERS = not HTTPS
if HTTPS:
    # Compressed files with content hashes in their names, so whitenoise can let browsers cache them forever.
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "webguard.parsers.JSONParser",  # DRF's, with a generic 400 for hostile JSON (webguard.parsers)
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",  # what the browsable API's HTML forms send
    ],
    "EXCEPTION_HANDLER": "webguard.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# Cross-origin script access: exactly the configured origins, with credentials, never a wildcard.
CORS_ALLOWED_ORIGINS = list(SITE_ORIGINS)
CORS_ALLOW_CREDENTIALS = True
CORS_URLS_REGEX = r"^/api/.*$"

# Cookies and transport. Every cookie is HttpOnly unless a script truly needs it (the CSRF token does).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = HTTPS and env.bool("DJANGO_SSL_REDIRECT", default=True)
# Load balancers probe and Prometheus scrapes each process directly, over plain HTTP (webguard.operations).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# The preload directive only takes effect once the domain is submitted to the browsers' preload list.
SECURE_HSTS_PRELOAD = HTTPS and env.bool("DJANGO_HSTS_PRELOAD", default=True)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto. Only trusted when the deployment says so.
if env.bool("DJANGO_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Bound request bodies: a token endpoint never needs more. Larger ones get 413 (webguard.security).
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
# Every page's Content-Security-Policy (webguard.security): scripts and styles from this site only (style
# attributes allowed: DRF's browsable API uses a few), no plugins, no framing (clickjacking), no <base>
# hijack; forms and script calls may reach the configured sites only, since sign-on moves between them.
SSO_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self' " + " ".join(SITE_ORIGINS),
        "form-action 'self' " + " ".join(SITE_ORIGINS),
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

# How many reverse proxies in front of a site append to X-Forwarded-For (0: trust none of it): the client
# address of the issuer's throttles and of /metrics' network rule (webguard.addresses).
SSO_TRUSTED_PROXY_COUNT = env.int("SSO_TRUSTED_PROXY_COUNT", default=0)

# Operations (webguard.operations). /metrics and /readyz's details: from these networks, or with this Bearer
# token, or from loopback in dev; anyone else gets 404. What /readyz checks and /metrics adds at scrape, per site.
SSO_METRICS_ALLOWED_NETWORKS = env_networks("SSO_METRICS_ALLOWED_NETWORKS")
SSO_METRICS_TOKEN = env.str("SSO_METRICS_TOKEN", default="")
SSO_READINESS_CHECKS = ["webguard.health.database_answers", "webguard.health.cache_answers"]
SSO_METRICS_COLLECTORS: list[str] = []

# Log lines as text ("plain") or one JSON object a line ("json", webguard.logs); either way with the request id.
SSO_LOG_FORMAT = env.str("SSO_LOG_FORMAT", default="plain")
if SSO_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("SSO_LOG_FORMAT is plain or json (see .env.example).")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "webguard.request_id.RequestIdFilter"},
        "outage_already_logged": {"()": "webguard.unavailable.OutageAlreadyLogged"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s request_id=%(request_id)s"},
        "json": {"()": "webguard.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": SSO_LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR", "filters": ["outage_already_logged"]},
        "django.server": {"level": "WARNING"},
    },
}
