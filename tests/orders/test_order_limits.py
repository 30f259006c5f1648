"""One customer cannot hold a product's stock: an order holds at most ORDERS_MAX_ITEMS_PER_ORDER items, and a
pending (unpaid) order gives its stock back at products once ORDERS_PENDING_EXPIRY_SECONDS have passed."""

import io
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command

from apps.orders import services
from apps.orders.models import Order
from tests.orders.conftest import place

pytestmark = pytest.mark.django_db


def just_past_expiry(order_id: int, settings) -> datetime:
    """A moment at which this order is just past its expiry (and orders placed after it are not)."""
    created = Order.objects.get(pk=order_id).created_at
    return created + timedelta(seconds=settings.ORDERS_PENDING_EXPIRY_SECONDS, microseconds=1)


def test_the_default_limits_are_documented_values(settings):
    assert settings.ORDERS_MAX_ITEMS_PER_ORDER == 10
    assert settings.ORDERS_PENDING_EXPIRY_SECONDS == 1800


def test_an_order_past_the_item_limit_is_refused_and_reserves_nothing(bob, products, settings):
    settings.ORDERS_MAX_ITEMS_PER_ORDER = 5
    response = place(bob, ("mug-blue", 3), ("sticker-pack", 3))
    assert response.status_code == 400
    assert response.json() == {"detail": "An order may hold at most 5 items.", "code": "invalid_order"}
    assert products.calls == [] and Order.objects.count() == 0
    assert place(bob, ("mug-blue", 5)).status_code == 201


def test_one_customer_cannot_hold_all_of_a_product_in_one_order(bob, products):
    products.stock["mug-blue"] = 37
    assert place(bob, ("mug-blue", 37)).status_code == 400
    assert products.stock["mug-blue"] == 37


def test_stale_pending_orders_expire_and_give_their_stock_back(bob, products, settings):
    stale = place(bob, ("mug-blue", 4), ("sticker-pack", 2)).json()["id"]
    fresh = place(bob, ("mug-blue", 1)).json()["id"]
    assert products.stock == {"mug-blue": 95, "sticker-pack": 98}
    later = just_past_expiry(stale, settings)
    assert services.orders_expire(now=later) == 1
    assert Order.objects.get(pk=stale).status == Order.Status.EXPIRED
    assert Order.objects.get(pk=fresh).status == Order.Status.PENDING
    assert products.stock == {"mug-blue": 99, "sticker-pack": 100}
    # Run again (cron overlapping itself): nothing more is released.
    assert services.orders_expire(now=later) == 0
    assert products.stock == {"mug-blue": 99, "sticker-pack": 100}
    assert bob.post(f"/api/orders/{stale}/cancel/").status_code == 400, "an expired order is not cancellable"


def test_the_cron_command_expires_what_is_due(bob, products, settings):
    place(bob, ("mug-blue", 4))
    settings.ORDERS_PENDING_EXPIRY_SECONDS = 0  # everything placed so far is past due
    out = io.StringIO()
    call_command("expire_pending_orders", stdout=out)
    assert out.getvalue().strip() == "Expired 1 pending orders."
    assert products.stock["mug-blue"] == 100


def test_an_order_products_cannot_release_stays_pending_for_the_next_run(bob, products, settings):
    stale = place(bob, ("mug-blue", 4)).json()["id"]
    later = just_past_expiry(stale, settings)
    products.down = True
    assert services.orders_expire(now=later) == 0
    assert Order.objects.get(pk=stale).status == Order.Status.PENDING
    products.down = False
    assert services.orders_expire(now=later) == 1
    assert products.stock["mug-blue"] == 100


def test_placing_an_order_expires_stale_ones_first(bob, products, settings):
    products.stock["mug-blue"] = 10
    stale = place(bob, ("mug-blue", 10)).json()["id"]
    assert place(bob, ("mug-blue", 1)).status_code == 409, "all ten are held"
    settings.ORDERS_PENDING_EXPIRY_SECONDS = 0  # the order above is now past due
    assert place(bob, ("mug-blue", 10)).status_code == 201, "the stale order gave its ten back"
    assert Order.objects.get(pk=stale).status == Order.Status.EXPIRED
