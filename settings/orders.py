"""The orders relying app."""

from .relying import *  # noqa: F403
from .relying import INSTALLED_APPS, PRODUCTS_URL, SSO_CLIENT, env, site_caches, site_databases

SITE_NAME = "orders"
ROOT_URLCONF = "apps.orders.urls"
DATABASES = site_databases("orders")
CACHES = site_caches("orders")
INSTALLED_APPS = [*INSTALLED_APPS, "apps.orders"]
SSO_CLIENT = {**SSO_CLIENT, "AUDIENCE": "orders"}

# Where orders reaches products (its public URL unless a private one is set).
PRODUCTS_INTERNAL_URL = env.str("PRODUCTS_INTERNAL_URL", default="") or PRODUCTS_URL
ORDERS_PRODUCTS_TIMEOUT_SECONDS = env.float("ORDERS_PRODUCTS_TIMEOUT_SECONDS", default=3.0)
