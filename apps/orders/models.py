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

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Order {self.pk} ({self.owner_username}, {self.status})"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.SlugField(max_length=40)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(max_digits=10, decimal_places=2, help_text="The product's price when ordered.")

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"
