"""The rules of stock: reserving and releasing it. Views validate and call these.

Reserving checks and decrements a product's stock in one transaction holding that product's row lock
(SELECT ... FOR UPDATE), so concurrent reservations of the last units queue up and each sees the stock the
previous one left: stock never goes negative and is never sold twice. (The column's CHECK (stock >= 0) is the
backstop, not the mechanism.)"""

from django.db import transaction
from django.utils import timezone

from .models import Product, Reservation


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


def stock_reserve(*, sku: str, quantity: int, client: str, reference: str) -> tuple[Reservation, bool]:
    """Set `quantity` of `sku` aside for `client` under `reference`, at the current price. Returns the
    reservation and whether it is new: asking again with the same reference and quantity (a retry after a
    lost answer) returns the same reservation rather than taking the stock twice."""
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
            product=product, client=client, reference=reference, quantity=quantity, unit_price=product.price
        )
    return reservation, True


def stock_release(*, sku: str, client: str, reference: str) -> int:
    """Put back what `client` reserved of `sku` under `reference`; return the quantity (0 when nothing was
    live: releasing twice is harmless, so a caller may always retry)."""
    with transaction.atomic():
        # The product row first, as stock_reserve does: one lock order, no deadlock between the two.
        product = Product.objects.select_for_update().filter(sku=sku).first()
        if product is None:
            raise ProductNotFound(sku)
        reservation = Reservation.objects.filter(
            product=product, client=client, reference=reference, released_at=None
        ).first()
        if reservation is None:
            return 0
        product.stock += reservation.quantity
        product.save(update_fields=["stock", "updated_at"])
        reservation.released_at = timezone.now()
        reservation.save(update_fields=["released_at"])
    return reservation.quantity
