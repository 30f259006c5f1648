"""The products relying app."""

from .relying import *  # noqa: F403
from .relying import INSTALLED_APPS, PRODUCTS_URL, SSO_CLIENT, env, site_caches, site_databases

SITE_NAME = "products"
ROOT_URLCONF = "apps.products.urls"
DATABASES = site_databases("products")
CACHES = site_caches("products")
INSTALLED_APPS = [*INSTALLED_APPS, "apps.products"]
SSO_CLIENT = {**SSO_CLIENT, "AUDIENCE": "products", "CLIENT_ID": SSO_CLIENT["CLIENT_ID"] or "products"}
# This site's own CSRF cookie, and only its own origin trusted for unsafe requests (see settings/issuer.py).
CSRF_COOKIE_NAME = "products_csrftoken"
CSRF_TRUSTED_ORIGINS = [PRODUCTS_URL]

# A reservation its service neither confirmed nor released for this long is put back into stock (`manage.py
# release_stale_reservations` from cron; reserving also releases a few first). Longer than a service may take to
# place an order: orders' timeout (ORDERS_PRODUCTS_TIMEOUT_SECONDS) for each of its lines, then its commit.
PRODUCTS_RESERVATION_GRACE_SECONDS = env.int("PRODUCTS_RESERVATION_GRACE_SECONDS", default=5 * 60)
