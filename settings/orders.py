"""The orders relying app."""

from .relying import *  # noqa: F403
from .relying import (
    HTTPS,
    INSTALLED_APPS,
    ORDERS_URL,
    PRODUCTS_URL,
    SSO_CLIENT,
    env,
    env_required,
    site_caches,
    site_databases,
)

SITE_NAME = "orders"
ROOT_URLCONF = "apps.orders.urls"
DATABASES = site_databases("orders")
CACHES = site_caches("orders")
INSTALLED_APPS = [*INSTALLED_APPS, "apps.orders"]
SSO_CLIENT = {**SSO_CLIENT, "AUDIENCE": "orders", "CLIENT_ID": SSO_CLIENT["CLIENT_ID"] or "orders"}
# This site's own CSRF cookie, and only its own origin trusted for unsafe requests (see settings/issuer.py).
CSRF_COOKIE_NAME = "orders_csrftoken"
CSRF_TRUSTED_ORIGINS = [ORDERS_URL]

# Where orders reaches products (its public URL unless a private one is set).
PRODUCTS_INTERNAL_URL = env.str("PRODUCTS_INTERNAL_URL", default="") or PRODUCTS_URL
ORDERS_PRODUCTS_TIMEOUT_SECONDS = env.float("ORDERS_PRODUCTS_TIMEOUT_SECONDS", default=3.0)

# orders calls products as itself: a service token from the issuer's client-credentials endpoint, kept in the
# cache until shortly before it expires. The secret has no default in production.
ORDERS_SERVICE_CLIENT_ID = env.str("ORDERS_SERVICE_CLIENT_ID", default="orders")
if HTTPS:
    ORDERS_SERVICE_CLIENT_SECRET = env_required("ORDERS_SERVICE_CLIENT_SECRET")
else:
    # Dev: the demo client's secret, as `seed_demo` set it from DEMO_SERVICE_SECRET.
    ORDERS_SERVICE_CLIENT_SECRET = env.str("ORDERS_SERVICE_CLIENT_SECRET", default="") or env.str(
        "DEMO_SERVICE_SECRET", default="sso-demo-service-secret"
    )
SSO_CLIENT = {
    **SSO_CLIENT,
    "SERVICE_CLIENT_ID": ORDERS_SERVICE_CLIENT_ID,
    "SERVICE_CLIENT_SECRET": ORDERS_SERVICE_CLIENT_SECRET,
}

# One customer must not hold a product's whole stock: an order holds at most this many items in all, and an
# unpaid (pending) order gives its stock back after this long (`manage.py expire_pending_orders` from cron;
# placing an order also expires a few stale ones first).
ORDERS_MAX_ITEMS_PER_ORDER = env.int("ORDERS_MAX_ITEMS_PER_ORDER", default=10)
ORDERS_PENDING_EXPIRY_SECONDS = env.int("ORDERS_PENDING_EXPIRY_SECONDS", default=30 * 60)
