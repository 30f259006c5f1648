"""How orders asks products about a product: over HTTP, as it would across hosts in production."""

import logging
from decimal import Decimal, InvalidOperation

import requests
from django.conf import settings

logger = logging.getLogger(__name__)


class ProductsUnavailable(Exception):
    """products could not be reached or answered unexpectedly."""


class ProductNotFound(Exception):
    """products has no product with that SKU."""


def product_price(*, sku: str, bearer_token: str) -> Decimal:
    """The current price of `sku`, asked with the caller's own token (it names products in `aud`)."""
    url = f"{settings.PRODUCTS_INTERNAL_URL}/api/products/{sku}/"
    try:
        response = requests.get(
            url,
            headers={"Authorization": f"Bearer {bearer_token}", "Accept": "application/json"},
            timeout=settings.ORDERS_PRODUCTS_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as e:
        logger.warning("products_client event=unreachable error=%s", type(e).__name__)
        raise ProductsUnavailable from e
    if response.status_code == 404:
        raise ProductNotFound(sku)
    if response.status_code != 200:
        logger.warning("products_client event=refused status=%s", response.status_code)
        raise ProductsUnavailable(f"HTTP {response.status_code}")
    try:
        return Decimal(str(response.json()["price"]))
    except (ValueError, KeyError, TypeError, InvalidOperation) as e:
        raise ProductsUnavailable("malformed product") from e
