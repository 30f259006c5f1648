"""No stock lost to a crash: a reservation its service confirms after saving its order stays; one neither
confirmed nor released within PRODUCTS_RESERVATION_GRACE_SECONDS goes back into stock, by the cron command or
when stock is next reserved, exactly once."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.products import services
from apps.products.models import Product, Reservation
from tests.keys import mint_token
from tests.products.test_reservations import client_with, service_token, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def mug():
    return Product.objects.create(sku="mug-blue", name="Blue mug", price=Decimal("9.50"), stock=5)


@pytest.fixture
def orders_service():
    return client_with(service_token())


def reserve(client, *, reference: str, order: str, quantity: int = 1, sku: str = "mug-blue"):
    body = {"quantity": quantity, "reference": reference, "order": order}
    return client.post(f"/api/products/{sku}/reserve/", body, format="json")


def confirm(client, order: str):
    return client.post("/api/products/reservations/confirm/", {"order": order}, format="json")


def past_grace(settings):
    return timezone.now() + timedelta(seconds=settings.PRODUCTS_RESERVATION_GRACE_SECONDS + 1)


def test_the_default_grace_period_is_a_few_minutes_and_longer_than_orders_timeout(settings):
    assert settings.PRODUCTS_RESERVATION_GRACE_SECONDS == 300


def test_a_reservation_carries_its_order_and_confirming_keeps_it(mug, orders_service, settings):
    assert reserve(orders_service, reference="o-1-0", order="o-1", quantity=2).status_code == 201
    assert reserve(orders_service, reference="o-1-1", order="o-1", quantity=1).status_code == 201
    assert reserve(orders_service, reference="o-2-0", order="o-2", quantity=1).status_code == 201
    assert sorted(Reservation.objects.values_list("order_reference", flat=True)) == ["o-1", "o-1", "o-2"]
    response = confirm(orders_service, "o-1")
    assert response.status_code == 200
    assert response.json() == {"order": "o-1", "confirmed": 2, "released": 0}
    assert confirm(orders_service, "o-1").json()["confirmed"] == 2, "confirming twice is harmless"
    assert stock() == 1
    # Past the grace period only the unconfirmed o-2 goes back.
    assert services.reservations_release_stale(now=past_grace(settings)) == 1
    assert stock() == 2
    assert Reservation.objects.get(reference="o-2-0").released_at is not None
    assert services.reservations_release_stale(now=past_grace(settings)) == 0, "idempotent"
    assert stock() == 2


def test_a_confirmation_after_the_sweep_says_the_stock_went_back(mug, orders_service, settings):
    reserve(orders_service, reference="o-3-0", order="o-3", quantity=2)
    assert services.reservations_release_stale(now=past_grace(settings)) == 1
    assert confirm(orders_service, "o-3").json() == {"order": "o-3", "confirmed": 0, "released": 1}
    assert stock() == 5


def test_a_line_released_by_a_failed_attempt_and_reserved_again_by_its_retry_is_not_swept(
    mug, orders_service, settings
):
    """orders' first attempt reserved, failed to commit and released; the retry (same Idempotency-Key, so the
    same order and line references) reserved again and committed. The first attempt's released reservation is
    not stock the sweep took: confirming says nothing went back, and the retry's reservation stays held."""
    reserve(orders_service, reference="o-10-0", order="o-10", quantity=2)
    orders_service.post("/api/products/mug-blue/release/", {"reference": "o-10-0"}, format="json")
    assert reserve(orders_service, reference="o-10-0", order="o-10", quantity=2).status_code == 201
    assert confirm(orders_service, "o-10").json() == {"order": "o-10", "confirmed": 1, "released": 0}
    assert services.reservations_release_stale(now=past_grace(settings)) == 0
    assert stock() == 3


def test_a_young_reservation_is_not_released(mug, orders_service):
    reserve(orders_service, reference="o-4-0", order="o-4", quantity=3)
    assert services.reservations_release_stale() == 0
    assert stock() == 2


def test_released_and_confirmed_reservations_are_left_alone(mug, orders_service, settings):
    reserve(orders_service, reference="o-5-0", order="o-5", quantity=2)
    orders_service.post("/api/products/mug-blue/release/", {"reference": "o-5-0"}, format="json")
    assert stock() == 5
    assert services.reservations_release_stale(now=past_grace(settings)) == 0
    assert stock() == 5, "a release already put it back; the sweep must not put it back twice"


def test_the_cron_command_releases_what_is_stale(mug, orders_service, settings):
    reserve(orders_service, reference="o-6-0", order="o-6", quantity=4)
    settings.PRODUCTS_RESERVATION_GRACE_SECONDS = 0
    out = io.StringIO()
    call_command("release_stale_reservations", stdout=out)
    assert out.getvalue().strip() == "Released 1 stale reservations."
    assert stock() == 5
    call_command("release_stale_reservations", stdout=out)
    assert stock() == 5


def test_reserving_releases_stale_reservations_first(mug, orders_service, settings):
    assert reserve(orders_service, reference="o-7-0", order="o-7", quantity=5).status_code == 201
    assert reserve(orders_service, reference="o-8-0", order="o-8").status_code == 409, "all five are held"
    settings.PRODUCTS_RESERVATION_GRACE_SECONDS = 0
    assert reserve(orders_service, reference="o-8-0", order="o-8").status_code == 201, "o-7 gave its five back"
    assert stock() == 4


def test_a_retry_of_a_reservation_under_the_same_reference_does_not_reserve_twice(mug, orders_service):
    assert reserve(orders_service, reference="o-9-0", order="o-9", quantity=2).status_code == 201
    assert reserve(orders_service, reference="o-9-0", order="o-9", quantity=2).status_code == 200
    assert stock() == 3


def test_confirming_needs_the_service_scope_and_a_well_formed_order(mug, orders_service):
    assert confirm(client_with(service_token(scope="other")), "o-1").status_code == 403
    assert confirm(client_with(mint_token(username="bob", staff=True)), "o-1").status_code == 401, "people never"
    assert confirm(orders_service, "has spaces").status_code == 400
    assert orders_service.get("/api/products/reservations/confirm/").status_code == 405
