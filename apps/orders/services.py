"""The rules of orders: placing (idempotently), confirming, cancelling and expiring. Views and the
expire_pending_orders command call these."""

import hashlib
import json
import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from sso_client.user import SSOUser

from . import products_client
from .models import Order, OrderLine
from .serializers import OrderSerializer

logger = logging.getLogger(__name__)

PRODUCTS_DOWN = "The product catalogue is unavailable; try again shortly."
KEY_REUSED = "This Idempotency-Key was already used for a different order; send a new key for a new order."
PRODUCTS_AUTH_DOWN = (
    "Orders cannot reach the product catalogue right now (sign-on service unavailable); try again shortly."
)


class OrderError(Exception):
    """A refusal the caller can fix (unknown product, order not cancellable)."""


class TooManyItems(OrderError):
    """More items in one order than ORDERS_MAX_ITEMS_PER_ORDER."""


class OutOfStock(OrderError):
    """products has too little of a product for this order."""


class IdempotencyKeyReused(OrderError):
    """The Idempotency-Key already placed an order, from a different request."""


class DependencyUnavailable(Exception):
    """Another site this action needs is down; nothing was written."""


def _unavailable(error: products_client.ProductsUnavailable) -> DependencyUnavailable:
    if isinstance(error, products_client.ServiceTokenUnavailable):
        return DependencyUnavailable(PRODUCTS_AUTH_DOWN)
    return DependencyUnavailable(PRODUCTS_DOWN)


def order_reference(*, owner_sub: str, idempotency_key: str) -> str:
    """What products knows a new order by. With an Idempotency-Key it is derived from the owner and the key,
    so a retry after a crash (the first attempt reserved, then never committed) names the same reservations,
    and products, which answers a repeated reference with the reservation it holds, does not reserve twice."""
    if not idempotency_key:
        return uuid.uuid4().hex
    return hashlib.sha256(f"{owner_sub}\0{idempotency_key}".encode()).hexdigest()[:32]


def reservation_reference(*, order: Order, index: int) -> str:
    """How an order line's stock reservation is named at products: unique per line and derived from the
    order alone, so cancelling finds what placing reserved. Orders placed before orders had a `reference`
    keep the old name, built from the id and the creation time (unique even where a rolled-back order's id
    is handed out again, as SQLite does)."""
    if order.reference:
        return f"{order.reference}-{index}"
    return f"order-{order.pk}-{order.created_at:%Y%m%d%H%M%S%f}-{index}"


def request_hash(lines: list[dict]) -> str:
    """What identifies an order request for its Idempotency-Key: its lines, whichever shape they came in."""
    canonical = json.dumps([[line["sku"], line["quantity"]] for line in lines])
    return hashlib.sha256(canonical.encode()).hexdigest()


def _placed_with_key(*, user: SSOUser, idempotency_key: str, lines_hash: str) -> Order | None:
    earlier = Order.objects.filter(owner_sub=user.sub, idempotency_key=idempotency_key).first()
    if earlier is not None and earlier.request_hash != lines_hash:
        raise IdempotencyKeyReused(KEY_REUSED)
    return earlier


def _placed_answer(order: Order, lines: list[OrderLine]) -> dict:
    """The order as its client is told it was placed, built from the rows just written: no query, so nothing
    that happens to the database after the commit turns a saved order into an error. Stored with the order,
    it is also what a retry with the same Idempotency-Key gets."""
    order._prefetched_objects_cache = {"lines": lines}  # as prefetch_related("lines") would leave them
    return OrderSerializer(order).data


def _release_quietly(reserved: list[tuple[str, str]]) -> None:
    for sku, reference in reserved:
        try:
            products_client.stock_release(sku=sku, reference=reference)
        except (products_client.ProductsUnavailable, products_client.ProductNotFound) as e:
            # The stock stays reserved at products under this reference until its grace period ends (the
            # reservation is never confirmed, so products' stale sweep puts it back).
            logger.error("orders event=release_failed sku=%s reference=%s error=%s", sku, reference, type(e).__name__)


def order_place(*, user: SSOUser, lines: list[dict], idempotency_key: str = "") -> Order:
    """Place an order for `user`: each line's stock is reserved at products (orders calls as itself, with
    its service token) at products' current price, and the order is written only if every line was. If a
    line fails, the lines already reserved are released and nothing is written. Once the order is committed
    its reservations are confirmed at products; products releases reservations left unconfirmed past its
    grace period, so a crash before the commit, or an answer orders never got, loses no stock for long.
    The order's `placed_answer` is what its client is told.

    With an `idempotency_key` the order is placed once: a retry with the same key and lines returns the
    first order; with other lines, IdempotencyKeyReused. The order row carrying the key is inserted first, so
    a concurrent retry waits on the unique constraint and then returns the order the first one committed.

    The order row is created first, inside the transaction, and the transaction stays open across the calls
    to products so that a failure rolls it back. On PostgreSQL that locks only the new row (and its key); on
    SQLite it holds the write lock for those calls (the dev profile).

    An order holds at most ORDERS_MAX_ITEMS_PER_ORDER items, and stale pending orders are expired and
    unconfirmed ones confirmed first (a few, when there are any), so this works even without the cron job."""
    limit = settings.ORDERS_MAX_ITEMS_PER_ORDER
    if sum(line["quantity"] for line in lines) > limit:
        raise TooManyItems(f"An order may hold at most {limit} items.")
    lines_hash = request_hash(lines)
    if idempotency_key:
        earlier = _placed_with_key(user=user, idempotency_key=idempotency_key, lines_hash=lines_hash)
        if earlier is not None:
            return earlier
    orders_expire(limit=EXPIRE_WHILE_PLACING)
    orders_confirm(limit=CONFIRM_WHILE_PLACING)
    reserved: list[tuple[str, str]] = []
    committed = False
    try:
        with transaction.atomic():
            order = Order.objects.create(
                owner_sub=user.sub,
                owner_username=user.username,
                reference=order_reference(owner_sub=user.sub, idempotency_key=idempotency_key),
                idempotency_key=idempotency_key,
                request_hash=lines_hash,
            )
            order_lines = []
            for index, line in enumerate(lines):
                reference = reservation_reference(order=order, index=index)
                unit_price = products_client.stock_reserve(
                    sku=line["sku"], quantity=line["quantity"], reference=reference, order=order.reference
                )
                reserved.append((line["sku"], reference))
                order_lines.append(
                    OrderLine(order=order, sku=line["sku"], quantity=line["quantity"], unit_price=unit_price)
                )
            OrderLine.objects.bulk_create(order_lines)
            order.placed_answer = _placed_answer(order, order_lines)
            order.save(update_fields=["placed_answer"])
        committed = True
    except IntegrityError:
        # A request with the same key committed while this one waited to insert (before reserving anything).
        if not idempotency_key:
            raise
        earlier = _placed_with_key(user=user, idempotency_key=idempotency_key, lines_hash=lines_hash)
        if earlier is None:
            raise
        return earlier
    except products_client.ProductNotFound as e:
        raise OrderError(f"Unknown product: {e}") from e
    except products_client.OutOfStock as e:
        raise OutOfStock(f"Not enough stock of {e} for this order.") from e
    except products_client.ReferenceInUse as e:
        # Only a retry with the key of an attempt that never committed, but with other quantities, gets here.
        raise IdempotencyKeyReused(KEY_REUSED) from e
    except products_client.ProductsUnavailable as e:
        raise _unavailable(e) from e
    finally:
        if not committed:
            _release_quietly(reserved)
    _order_confirm(order=order)
    return order


def _order_confirm(*, order: Order) -> bool:
    """Tell products that `order` is committed, so its reservations outlive the grace period, and record it.
    False when that could not be done now (products or the database unreachable): orders_confirm tries again.
    If products had already put some of the order's stock back (it never heard from orders within its grace
    period), the order no longer holds its stock and expires, releasing the rest."""
    try:
        _, released = products_client.reservations_confirm(order=order.reference)
    except products_client.ProductsUnavailable as e:
        logger.warning("orders event=confirm_deferred order=%s error=%s", order.pk, type(e).__name__)
        return False
    try:
        with transaction.atomic():  # a failure here undoes this step only, never the caller's work
            if released:
                logger.error("orders event=stock_released_before_confirmation order=%s lines=%s", order.pk, released)
                try:
                    _order_close(order=order, status=Order.Status.EXPIRED)
                except OrderError:
                    pass  # cancelled or expired meanwhile: its stock is back already
            Order.objects.filter(pk=order.pk).update(confirmed_at=timezone.now())
    except (DatabaseError, DependencyUnavailable) as e:
        logger.warning("orders event=confirm_unrecorded order=%s error=%s", order.pk, type(e).__name__)
        return False
    return True


# How many unconfirmed orders placing an order confirms first.
CONFIRM_WHILE_PLACING = 5


def orders_confirm(*, limit: int | None = None) -> int:
    """Confirm at products the reservations of committed orders whose confirmation did not get through
    (products unreachable just after the commit, or the process gone), oldest first (at most `limit`); return
    how many. Confirming twice is harmless, so concurrent runs are safe."""
    unconfirmed = Order.objects.filter(confirmed_at=None).exclude(reference="").order_by("created_at", "pk")
    confirmed = 0
    for order in unconfirmed[:limit] if limit is not None else unconfirmed:
        if not _order_confirm(order=order):
            break  # the others would fail the same way; the next run tries again
        confirmed += 1
    return confirmed


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
