"""The product catalogue, its stock, and the reservations services hold against it."""

from django.core.validators import MinValueValidator
from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=200)
    sku = models.SlugField(max_length=40, unique=True, help_text="Stock-keeping unit, e.g. mug-blue.")
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    stock = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} ({self.name})"


class Reservation(models.Model):
    """Stock set aside for a service (orders, for an order line), under the caller's own reference.
    Releasing it puts the quantity back; a reference names at most one live reservation of a product.

    The caller confirms a reservation once its own write is committed (all of one `order_reference` at once);
    one neither confirmed nor released within PRODUCTS_RESERVATION_GRACE_SECONDS belongs to an order that was
    never saved, or whose outcome the caller never learned, and `release_stale_reservations` puts it back."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reservations")
    client = models.CharField(max_length=100, help_text="The service that reserved: its token's `sub`.")
    reference = models.CharField(max_length=100, help_text="The caller's reference, e.g. its order line.")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(max_digits=10, decimal_places=2, help_text="The product's price when reserved.")
    order_reference = models.CharField(
        max_length=100, blank=True, default="", help_text="The caller's order this line belongs to; confirmed together."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "reference", "product"],
                condition=models.Q(released_at__isnull=True),
                name="one_live_reservation_per_reference",
            )
        ]
        indexes = [
            # What the stale-reservation sweep scans: only the unsettled ones, oldest first.
            models.Index(
                fields=["created_at"],
                condition=models.Q(confirmed_at__isnull=True, released_at__isnull=True),
                name="reservation_unsettled_idx",
            ),
            models.Index(fields=["client", "order_reference"], name="reservation_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product.sku} for {self.client} {self.reference}"
