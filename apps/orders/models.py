"""Orders and their lines. The owner is the issuer's `sub`: orders hold no user rows."""

from django.core.validators import MinValueValidator
from django.db import models


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CANCELLED = "cancelled", "Cancelled"
        # Left unpaid past ORDERS_PENDING_EXPIRY_SECONDS: its stock went back to products.
        EXPIRED = "expired", "Expired"

    owner_sub = models.CharField(max_length=64, db_index=True)
    owner_username = models.CharField(max_length=150, help_text="As the token said when the order was placed.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # What products knows the order by: its reservations carry it, and orders confirms them under it once the
    # order is committed (`confirmed_at`). Empty for orders placed before it existed (see reservation_reference).
    reference = models.CharField(max_length=64, blank=True, default="")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The client's Idempotency-Key, the request it came with, and the answer it got: a retry gets that answer.
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    request_hash = models.CharField(max_length=64, blank=True, default="")
    placed_answer = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference"], condition=~models.Q(reference=""), name="unique_order_reference"
            ),
            # Concurrent retries with one key: the second insert waits for the first and then fails, so one
            # order is placed.
            models.UniqueConstraint(
                fields=["owner_sub", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_order_per_idempotency_key",
            ),
        ]
        indexes = [
            # What the confirmation retry scans: committed orders products has not heard back about.
            models.Index(
                fields=["created_at"], condition=models.Q(confirmed_at__isnull=True), name="order_unconfirmed_idx"
            )
        ]

    def __str__(self) -> str:
        return f"Order {self.pk} ({self.owner_username}, {self.status})"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.SlugField(max_length=40)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(max_digits=10, decimal_places=2, help_text="The product's price when ordered.")

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"
