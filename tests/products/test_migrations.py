"""products' 0003_reservation_confirmation applies on a database with reservations in it, and counts them as
confirmed: the stale sweep never takes back stock held for orders placed before confirmation existed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.products import services
from tests.migrations import migrate, migrate_to_latest

BEFORE = [("products", "0002_reservation")]
AFTER = [("products", "0003_reservation_confirmation")]


@pytest.mark.django_db(transaction=True)
def test_existing_reservations_count_as_confirmed():
    old = migrate(BEFORE)
    product = old.get_model("products", "Product").objects.create(sku="mug-blue", name="Mug", price="9.50", stock=3)
    old.get_model("products", "Reservation").objects.create(
        product=product, client="service:orders", reference="order-1-0", quantity=2, unit_price="9.50"
    )
    try:
        new = migrate(AFTER)
        reservation = new.get_model("products", "Reservation").objects.get()
        assert reservation.confirmed_at == reservation.created_at
        assert reservation.order_reference == "order-1-0"
        assert services.reservations_release_stale(now=timezone.now() + timedelta(days=1)) == 0
    finally:
        migrate_to_latest()
