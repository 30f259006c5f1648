"""Product input and output, and what services send to reserve, confirm and release stock."""

from decimal import Decimal

from rest_framework import serializers

from .models import Product


class ProductSerializer(serializers.ModelSerializer):
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0"))

    class Meta:
        model = Product
        fields = ["sku", "name", "price", "stock", "updated_at"]
        read_only_fields = ["updated_at"]


REFERENCE_PATTERN = r"^[A-Za-z0-9:._-]+$"


class ReserveSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=100000)
    reference = serializers.RegexField(REFERENCE_PATTERN, max_length=100, help_text="Yours, e.g. an order line.")
    order = serializers.RegexField(
        REFERENCE_PATTERN, max_length=100, required=False, help_text="The order it belongs to (default: reference)."
    )


class ReleaseSerializer(serializers.Serializer):
    reference = serializers.RegexField(REFERENCE_PATTERN, max_length=100)


class ConfirmSerializer(serializers.Serializer):
    order = serializers.RegexField(REFERENCE_PATTERN, max_length=100, help_text="The order whose lines you saved.")
