"""orders' 0003_order_reference_and_idempotency_key applies on a database with orders in it: they keep their
old reservation names and have nothing left to confirm."""

import pytest

from apps.orders import services
from apps.orders.models import Order
from tests.migrations import migrate, migrate_to_latest

BEFORE = [("orders", "0002_order_expiry")]
AFTER = [("orders", "0003_order_reference_and_idempotency_key")]


@pytest.mark.django_db(transaction=True)
def test_existing_orders_keep_their_reservation_names_and_are_confirmed(products):
    old = migrate(BEFORE)
    old.get_model("orders", "Order").objects.create(owner_sub="2", owner_username="bob")
    try:
        migrate(AFTER)
        order = Order.objects.get()
        assert (order.reference, order.idempotency_key, order.placed_answer) == ("", "", None)
        assert order.confirmed_at == order.created_at
        assert services.reservation_reference(order=order, index=0).startswith(f"order-{order.pk}-")
        assert services.orders_confirm() == 0 and products.calls == []
    finally:
        migrate_to_latest()
