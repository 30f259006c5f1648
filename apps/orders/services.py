"""The rules of orders: placing, cancelling and expiring. Views and the expire_pending_orders command call these."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sso_client.user import SSOUser

from . import products_client
from .models import Order, OrderLine

logger = logging.getLogger(__name__)

PRODUCTS_DOWN = "The product catalogue is unavailable; try again shortly."
PRODUCTS_AUTH_DOWN = (
    "Orders cannot reach the product catalogue right now (sign-on service unavailable); try again shortly."
)


class OrderError(Exception):
    """A refusal the caller can fix (unknown product, order not cancellable)."""


class TooManyItems(OrderError):
    """More items in one order than ORDERS_MAX_ITEMS_PER_ORDER."""


class OutOfStock(OrderError):
    """products has too little of a product for this order."""


class DependencyUnavailable(Exception):
    """Another site this action needs is down; nothing was written."""


def _unavailable(error: products_client.ProductsUnavailable) -> DependencyUnavailable:
    if isinstance(error, products_client.ServiceTokenUnavailable):
        return DependencyUnavailable(PRODUCTS_AUTH_DOWN)
    return DependencyUnavailable(PRODUCTS_DOWN)


def reservation_reference(*, order: Order, index: int) -> str:
    """How an order line's stock reservation is named at products: unique per line and derived from the
    order alone, so cancelling finds what placing reserved. The creation time keeps it unique even where a
    rolled-back order's id is handed out again (SQLite)."""
    return f"order-{order.pk}-{order.created_at:%Y%m%d%H%M%S%f}-{index}"


def _release_quietly(reserved: list[tuple[str, str]]) -> None:
    for sku, reference in reserved:
        try:
            products_client.stock_release(sku=sku, reference=reference)
        except (products_client.ProductsUnavailable, products_client.ProductNotFound) as e:
            # The stock stays reserved at products under this reference until someone releases it.
            logger.error("orders event=release_failed sku=%s reference=%s error=%s", sku, reference, type(e).__name__)


def order_place(*, user: SSOUser, lines: list[dict]) -> Order:
    """Place an order for `user`: each line's stock is reserved at products (orders calls as itself, with
    its service token) at products' current price, and the order is written only if every line was. If a
    line fails, the lines already reserved are released and nothing is written.

    The order row is created first, inside the transaction, because the reservations are named after it;
    the transaction stays open across the calls to products so that a failure rolls it back. On PostgreSQL
    that locks only the new row; on SQLite it holds the write lock for those calls (the dev profile).

    An order holds at most ORDERS_MAX_ITEMS_PER_ORDER items, and stale pending orders are expired first (a
    few, when there are any), so stock held by unpaid orders comes back even without the cron job."""
    limit = settings.ORDERS_MAX_ITEMS_PER_ORDER
    if sum(line["quantity"] for line in lines) > limit:
        raise TooManyItems(f"An order may hold at most {limit} items.")
    orders_expire(limit=EXPIRE_WHILE_PLACING)
    reserved: list[tuple[str, str]] = []
    committed = False
    try:
        with transaction.atomic():
            order = Order.objects.create(owner_sub=user.sub, owner_username=user.username)
            order_lines = []
            for index, line in enumerate(lines):
                reference = reservation_reference(order=order, index=index)
                unit_price = products_client.stock_reserve(
                    sku=line["sku"], quantity=line["quantity"], reference=reference
                )
                reserved.append((line["sku"], reference))
                order_lines.append(
                    OrderLine(order=order, sku=line["sku"], quantity=line["quantity"], unit_price=unit_price)
                )
            OrderLine.objects.bulk_create(order_lines)
        committed = True
    except products_client.ProductNotFound as e:
        raise OrderError(f"Unknown product: {e}") from e
    except products_client.OutOfStock as e:
        raise OutOfStock(f"Not enough stock of {e} for this order.") from e
    except products_client.ProductsUnavailable as e:
        raise _unavailable(e) from e
    finally:
        if not committed:
            _release_quietly(reserved)
    return order


def order_cancel(*, order: Order) -> Order:
    """Cancel a pending order and put its stock back at products. If products cannot be reached the order
    stays pending and cancelling can simply be tried again: a release that already happened releases
    nothing the second time."""
    return _order_close(order=order, status=Order.Status.CANCELLED)


def _order_close(*, order: Order, status: str) -> Order:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status != Order.Status.PENDING:
            raise OrderError("Only a pending order can be cancelled.")
        for index, line in enumerate(order.lines.order_by("pk")):
            try:
                products_client.stock_release(sku=line.sku, reference=reservation_reference(order=order, index=index))
            except products_client.ProductNotFound:
                logger.info("orders event=release_skipped sku=%s reason=product_gone", line.sku)
            except products_client.ProductsUnavailable as e:
                raise _unavailable(e) from e
        order.status = status
        order.save(update_fields=["status"])
    return order


# How many stale orders placing an order expires first: enough to keep up, few enough to stay cheap.
EXPIRE_WHILE_PLACING = 5


def orders_expire(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Expire pending orders older than ORDERS_PENDING_EXPIRY_SECONDS, oldest first (at most `limit`): their
    stock goes back to products through the same release as a cancel, and they become `expired`. Returns how
    many. Safe to run from several places at once: each order is locked and re-read, and a release that
    already happened releases nothing. Orders whose release fails (products down) stay pending for the next
    run."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.ORDERS_PENDING_EXPIRY_SECONDS)
    stale = Order.objects.filter(status=Order.Status.PENDING, created_at__lt=cutoff).order_by("created_at", "pk")
    expired = 0
    for order in stale[:limit] if limit is not None else stale:
        try:
            _order_close(order=order, status=Order.Status.EXPIRED)
        except OrderError:
            continue  # cancelled or expired meanwhile
        except DependencyUnavailable:
            logger.warning("orders event=expiry_deferred order=%s reason=products_unavailable", order.pk)
            break  # the others would fail the same way; the next run tries again
        logger.info("orders event=order_expired order=%s", order.pk)
        expired += 1
    return expired
