"""The products relying app."""

from .relying import *  # noqa: F403
from .relying import INSTALLED_APPS, PRODUCTS_URL, SSO_CLIENT, site_caches, site_databases

SITE_NAME = "products"
ROOT_URLCONF = "apps.products.urls"
DATABASES = site_databases("products")
CACHES = site_caches("products")
INSTALLED_APPS = [*INSTALLED_APPS, "apps.products"]
SSO_CLIENT = {**SSO_CLIENT, "AUDIENCE": "products", "CLIENT_ID": SSO_CLIENT["CLIENT_ID"] or "products"}
# This site's own CSRF cookie, and only its own origin trusted for unsafe requests (see settings/issuer.py).
CSRF_COOKIE_NAME = "products_csrftoken"
CSRF_TRUSTED_ORIGINS = [PRODUCTS_URL]
