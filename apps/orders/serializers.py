"""Order input and output. An order is placed with `lines`, or with one `sku` and `quantity` (which is
what the browsable API's HTML form can send)."""

from rest_framework import serializers

from .models import Order, OrderLine


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["sku", "quantity", "unit_price"]


class OrderSerializer(serializers.ModelSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)
    total = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["id", "owner_username", "status", "created_at", "lines", "total"]

    def get_total(self, order: Order) -> str:
        return str(sum((line.unit_price * line.quantity for line in order.lines.all()), start=0))


class LineInputSerializer(serializers.Serializer):
    sku = serializers.SlugField(max_length=40)
    quantity = serializers.IntegerField(min_value=1, max_value=1000)


class OrderPlaceSerializer(serializers.Serializer):
    sku = serializers.SlugField(max_length=40, required=False, help_text="One product (or use lines).")
    quantity = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=1)
    lines = LineInputSerializer(many=True, required=False, max_length=50, style={"base_template": "input.html"})

    def validate(self, data: dict) -> dict:
        lines = data.get("lines")
        if lines and data.get("sku"):
            raise serializers.ValidationError("Send either lines or sku, not both.")
        if not lines and not data.get("sku"):
            raise serializers.ValidationError("An order needs at least one line.")
        return {"lines": lines or [{"sku": data["sku"], "quantity": data["quantity"]}]}
