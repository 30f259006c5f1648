"""How orders talks to products: over HTTP and as itself, as it would across hosts in production.

orders holds a service token from the issuer (client credentials: `sub` service:orders, `aud` products,
scope stock:reserve), kept in the cache until shortly before it expires, and uses it to reserve stock for an
order's lines and to release it. A person's own token is never relayed: products would have to accept
people where only orders should be allowed, and orders' calls would depend on how long the person's token
had left."""

import logging
import threading
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.cache import cache

from sso_client.conf import issuer_fetch_base

logger = logging.getLogger(__name__)

SCOPE = "stock:reserve"
TOKEN_CACHE_KEY = "orders:products-service-token"
# Renewed this long before it expires, so a token never runs out between the cache and products.
TOKEN_RENEW_MARGIN_SECONDS = 30
# One fetch per process when the cached token runs out, not one per concurrent request.
_token_lock = threading.Lock()


class ProductsUnavailable(Exception):
    """products could not be reached or answered unexpectedly."""


class ServiceTokenUnavailable(ProductsUnavailable):
    """orders could not get a service token: the issuer is unreachable or refused its credentials."""


class ProductNotFound(Exception):
    """products has no product with that SKU."""


class OutOfStock(Exception):
    """products has less of that SKU in stock than asked for."""


def _fetch_service_token() -> tuple[str, int]:
    try:
        response = requests.post(
            f"{issuer_fetch_base()}/api/service-token/",
            json={
                "grant_type": "client_credentials",
                "client_id": settings.ORDERS_SERVICE_CLIENT_ID,
                "client_secret": settings.ORDERS_SERVICE_CLIENT_SECRET,
                "audience": "products",
                "scope": SCOPE,
            },
            headers={"Accept": "application/json"},
            timeout=settings.ORDERS_PRODUCTS_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as e:
        logger.warning("products_client event=service_token_failed error=%s", type(e).__name__)
        raise ServiceTokenUnavailable from e
    if response.status_code != 200:
        # 401: the client id or secret is wrong, or the client was deactivated at the issuer.
        logger.warning("products_client event=service_token_refused status=%s", response.status_code)
        raise ServiceTokenUnavailable(f"HTTP {response.status_code}")
    try:
        body = response.json()
        token, expires_in = body["access_token"], int(body["expires_in"])
    except (ValueError, KeyError, TypeError) as e:
        raise ServiceTokenUnavailable("malformed token response") from e
    if not isinstance(token, str):
        raise ServiceTokenUnavailable("malformed token response")
    logger.info("products_client event=service_token_fetched expires_in=%s", expires_in)
    return token, expires_in


def service_token(*, renew: bool = False) -> str:
    """orders' service token for products, from the cache while it has more than the margin left."""
    if not renew and (token := cache.get(TOKEN_CACHE_KEY)):
        return token
    with _token_lock:
        if not renew and (token := cache.get(TOKEN_CACHE_KEY)):
            return token
        token, expires_in = _fetch_service_token()
        if expires_in > TOKEN_RENEW_MARGIN_SECONDS:
            cache.set(TOKEN_CACHE_KEY, token, timeout=expires_in - TOKEN_RENEW_MARGIN_SECONDS)
        return token


def _post(path: str, body: dict[str, Any]) -> requests.Response:
    """POST to products with the service token. A 401 means products no longer takes the cached token (its
    key was rotated out, the clocks disagree): it is renewed once and the call repeated."""
    for renew in (False, True):
        token = service_token(renew=renew)
        try:
            response = requests.post(
                f"{settings.PRODUCTS_INTERNAL_URL}{path}",
                json=body,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                timeout=settings.ORDERS_PRODUCTS_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as e:
            logger.warning("products_client event=unreachable error=%s", type(e).__name__)
            raise ProductsUnavailable from e
        if response.status_code != 401:
            return response
    logger.warning("products_client event=service_token_rejected_by_products")
    raise ProductsUnavailable("HTTP 401")


def _code(response: requests.Response) -> str:
    try:
        return str(response.json().get("code", ""))
    except (ValueError, AttributeError):
        return ""


def stock_reserve(*, sku: str, quantity: int, reference: str) -> Decimal:
    """Reserve `quantity` of `sku` under `reference`; return products' unit price for it."""
    response = _post(f"/api/products/{quote(sku, safe='')}/reserve/", {"quantity": quantity, "reference": reference})
    if response.status_code == 404:
        raise ProductNotFound(sku)
    if response.status_code == 409 and _code(response) == "out_of_stock":
        raise OutOfStock(sku)
    if response.status_code not in (200, 201):
        logger.warning("products_client event=reserve_refused status=%s", response.status_code)
        raise ProductsUnavailable(f"HTTP {response.status_code}")
    try:
        return Decimal(str(response.json()["unit_price"]))
    except (ValueError, KeyError, TypeError, InvalidOperation) as e:
        raise ProductsUnavailable("malformed reservation") from e


def stock_release(*, sku: str, reference: str) -> int:
    """Release what was reserved under `reference`; return the quantity put back (0 if nothing was held)."""
    response = _post(f"/api/products/{quote(sku, safe='')}/release/", {"reference": reference})
    if response.status_code == 404:
        raise ProductNotFound(sku)
    if response.status_code != 200:
        logger.warning("products_client event=release_refused status=%s", response.status_code)
        raise ProductsUnavailable(f"HTTP {response.status_code}")
    try:
        return int(response.json()["released"])
    except (ValueError, KeyError, TypeError) as e:
        raise ProductsUnavailable("malformed release") from e
