"""How orders talks to products: over HTTP and as itself (sso_client.service_calls: a service token with
`sub` service:orders, `aud` products, scope stock:reserve), to reserve stock for an order's lines, to confirm
an order's reservations once it is saved, and to release them; products' answers become the errors orders'
rules handle."""

import logging
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from sso_client import service_calls

logger = logging.getLogger(__name__)

SCOPE = "stock:reserve"


class ProductsUnavailable(Exception):
    """products could not be reached or answered unexpectedly."""


class ServiceTokenUnavailable(ProductsUnavailable):
    """orders could not get a service token: the issuer is unreachable or refused its credentials."""


class ProductNotFound(Exception):
    """products has no product with that SKU."""


class OutOfStock(Exception):
    """products has less of that SKU in stock than asked for."""


class ReferenceInUse(Exception):
    """products already holds a different quantity of that SKU under that reference."""


def products_auth() -> service_calls.ServiceTokenAuth:
    """orders calling products as itself (its service client: SSO_CLIENT["SERVICE_CLIENT_ID"], settings/orders.py)."""
    return service_calls.ServiceTokenAuth(audience="products", scope=SCOPE)


def _post(path: str, body: dict[str, Any]) -> requests.Response:
    """POST to products as orders. A 401 after the auth class's one renewal means products refuses orders."""
    try:
        response = requests.post(
            f"{settings.PRODUCTS_INTERNAL_URL}{path}",
            json=body,
            auth=products_auth(),
            headers={"Accept": "application/json"},
            timeout=settings.ORDERS_PRODUCTS_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except service_calls.ServiceTokenUnavailable as e:
        raise ServiceTokenUnavailable(str(e)) from e
    except requests.RequestException as e:
        logger.warning("products_client event=unreachable error=%s", type(e).__name__)
        raise ProductsUnavailable from e
    if response.status_code == 401:
        logger.warning("products_client event=service_token_rejected_by_products")
        raise ProductsUnavailable("HTTP 401")
    return response


def _code(response: requests.Response) -> str:
    try:
        return str(response.json().get("code", ""))
    except (ValueError, AttributeError):
        return ""


def stock_reserve(*, sku: str, quantity: int, reference: str, order: str) -> Decimal:
    """Reserve `quantity` of `sku` under `reference`, a line of `order`; return products' unit price for it.
    The same reference again returns the same reservation: a retry never reserves twice."""
    body = {"quantity": quantity, "reference": reference, "order": order}
    response = _post(f"/api/products/{quote(sku, safe='')}/reserve/", body)
    if response.status_code == 404:
        raise ProductNotFound(sku)
    if response.status_code == 409 and _code(response) == "out_of_stock":
        raise OutOfStock(sku)
    if response.status_code == 409 and _code(response) == "reference_in_use":
        raise ReferenceInUse(sku)
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


def reservations_confirm(*, order: str) -> tuple[int, int]:
    """Confirm the reservations of a saved `order`, so that products keeps them past its grace period; return
    (confirmed, released): how many are held, and how many products had already put back."""
    response = _post("/api/products/reservations/confirm/", {"order": order})
    if response.status_code != 200:
        logger.warning("products_client event=confirm_refused status=%s", response.status_code)
        raise ProductsUnavailable(f"HTTP {response.status_code}")
    try:
        body = response.json()
        return int(body["confirmed"]), int(body["released"])
    except (ValueError, KeyError, TypeError) as e:
        raise ProductsUnavailable("malformed confirmation") from e
