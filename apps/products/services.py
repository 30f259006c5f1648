"""The rules of stock: reserving, confirming and releasing it. Views and release_stale_reservations call these.

Reserving checks and decrements a product's stock in one transaction holding that product's row lock
(SELECT ... FOR UPDATE), so concurrent reservations of the last units queue up and each sees the stock the
previous one left: stock never goes negative and is never sold twice. (The column's CHECK (stock >= 0) is the
backstop, not the mechanism.)

A reservation the caller neither confirms nor releases within PRODUCTS_RESERVATION_GRACE_SECONDS is put back:
the caller crashed between reserving and saving its order, or gave up waiting for the answer, and nobody else
would ever release it."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from .models import Product, Reservation

logger = logging.getLogger(__name__)

# How many stale reservations reserving releases first: enough to keep up between cron runs, few enough to be cheap.
RELEASE_WHILE_RESERVING = 5


class StockError(Exception):
    """A refusal the caller can act on."""


class ProductNotFound(StockError):
    """No product has that SKU."""


class OutOfStock(StockError):
    def __init__(self, available: int) -> None:
        super().__init__(f"{available} left")
        self.available = available


class ReferenceInUse(StockError):
    """The caller already holds a different reservation of this product under this reference."""


def stock_reserve(
    *, sku: str, quantity: int, client: str, reference: str, order_reference: str = ""
) -> tuple[Reservation, bool]:
    """Set `quantity` of `sku` aside for `client` under `reference` (a line of `order_reference`, by default
    its own order), at the current price. Returns the reservation and whether it is new: asking again with the
    same reference and quantity (a retry after a lost answer) returns the same reservation rather than taking
    the stock twice. A few stale reservations are released first, so stock comes back even without cron."""
    reservations_release_stale(limit=RELEASE_WHILE_RESERVING)
    with transaction.atomic():
        product = Product.objects.select_for_update().filter(sku=sku).first()
        if product is None:
            raise ProductNotFound(sku)
        live = Reservation.objects.filter(product=product, client=client, reference=reference, released_at=None)
        existing = live.first()
        if existing is not None:
            if existing.quantity != quantity:
                raise ReferenceInUse(reference)
            return existing, False
        if product.stock < quantity:
            raise OutOfStock(product.stock)
        product.stock -= quantity
        product.save(update_fields=["stock", "updated_at"])
        reservation = Reservation.objects.create(
            product=product,
            client=client,
            reference=reference,
            order_reference=order_reference or reference,
            quantity=quantity,
            unit_price=product.price,
        )
    return reservation, True


def _put_back(*, product: Product, reservation: QuerySet) -> int:
    """Release the one reservation `reservation` selects, if it is still as selected, into `product` (whose row
    the caller holds locked); return the quantity put back. The update's own condition decides, so a
    confirmation or release racing this one is seen rather than overwritten."""
    quantity = reservation.values_list("quantity", flat=True).first()
    if quantity is None or reservation.update(released_at=timezone.now()) != 1:
        return 0
    product.stock += quantity
    product.save(update_fields=["stock", "updated_at"])
    return quantity


def stock_release(*, sku: str, client: str, reference: str) -> int:
    """Put back what `client` reserved of `sku` under `reference`; return the quantity (0 when nothing was
    live: releasing twice is harmless, so a caller may always retry)."""
    with transaction.atomic():
        # The product row first, as stock_reserve does: one lock order, no deadlock between the two.
        product = Product.objects.select_for_update().filter(sku=sku).first()
        if product is None:
            raise ProductNotFound(sku)
        live = Reservation.objects.filter(product=product, client=client, reference=reference, released_at=None)
        return _put_back(product=product, reservation=live)


def reservations_confirm(*, client: str, order_reference: str) -> tuple[int, int]:
    """Confirm every live reservation `client` holds for `order_reference`: its order is saved, so the stale
    sweep leaves them alone. Returns (live reservations, now all confirmed; reservations of that order the
    sweep already released). Confirming again changes nothing.

    A line counts as swept only if nothing of it is held now: a reservation the caller itself released (an
    attempt that failed to commit) and then made again under the same reference (the attempt's retry, with
    the same Idempotency-Key) is not stock the sweep took."""
    of_order = Reservation.objects.filter(client=client, order_reference=order_reference)
    held = of_order.filter(released_at=None)
    with transaction.atomic():
        held.filter(confirmed_at=None).update(confirmed_at=timezone.now())
        confirmed = held.count()
        swept = (
            of_order.filter(confirmed_at=None)
            .exclude(released_at=None)
            .exclude(Exists(held.filter(product=OuterRef("product"), reference=OuterRef("reference"))))
            .values("product", "reference")
            .distinct()
            .count()
        )
    return confirmed, swept


def reservations_release_stale(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Release reservations neither confirmed nor released for PRODUCTS_RESERVATION_GRACE_SECONDS, oldest first
    (at most `limit`); return how many. Safe to run from several places at once: each is released under its
    product's lock and only if it is still unsettled."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.PRODUCTS_RESERVATION_GRACE_SECONDS)
    stale = Reservation.objects.filter(confirmed_at=None, released_at=None, created_at__lt=cutoff).order_by(
        "created_at", "pk"
    )
    released = 0
    for pk, product_id, client, reference in stale.values_list("pk", "product_id", "client", "reference")[:limit]:
        with transaction.atomic():
            product = Product.objects.select_for_update().filter(pk=product_id).first()
            if product is None:
                continue  # deleted meanwhile, and its reservations with it
            unsettled = Reservation.objects.filter(pk=pk, confirmed_at=None, released_at=None)
            quantity = _put_back(product=product, reservation=unsettled)
        if quantity:
            logger.info(
                "products event=stale_reservation_released client=%s reference=%s sku=%s quantity=%s",
                client,
                reference,
                product.sku,
                quantity,
            )
            released += 1
    return released
