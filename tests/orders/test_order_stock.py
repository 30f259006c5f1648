"""Placing and cancelling orders reserve and release stock at products, all or nothing."""

import pytest

from apps.orders.models import Order
from apps.orders.services import reservation_reference
from tests.orders.conftest import place

pytestmark = pytest.mark.django_db


def test_each_line_reserves_under_its_own_reference_even_for_the_same_sku(bob, products):
    response = place(bob, ("mug-blue", 2), ("mug-blue", 3))
    assert response.status_code == 201
    order = Order.objects.get(pk=response.json()["id"])
    assert products.stock["mug-blue"] == 95
    reserved = [call[2] for call in products.calls if call[0] == "reserve"]
    assert reserved == [reservation_reference(order=order, index=i) for i in (0, 1)]
    assert len(set(products.reservations)) == 2


def test_out_of_stock_is_409_releases_earlier_lines_and_writes_nothing(bob, products):
    products.stock["sticker-pack"] = 1
    response = place(bob, ("mug-blue", 2), ("sticker-pack", 5))
    assert response.status_code == 409
    assert response.json() == {"detail": "Not enough stock of sticker-pack for this order.", "code": "out_of_stock"}
    assert products.stock == {"mug-blue": 100, "sticker-pack": 1}
    assert products.reservations == {}
    assert [call[0] for call in products.calls] == ["reserve", "reserve", "release"], "and no confirmation"
    assert Order.objects.count() == 0


def test_an_unknown_product_on_line_two_releases_line_one(bob, products):
    response = place(bob, ("mug-blue", 4), ("no-such-thing", 1))
    assert response.status_code == 400
    assert products.stock["mug-blue"] == 100 and products.reservations == {}
    assert Order.objects.count() == 0


def test_products_failing_on_line_two_is_503_and_line_one_is_released(bob, products, monkeypatch):
    reserve = products.stock_reserve

    def fail_second(*, sku, quantity, reference, order):
        if products.calls:
            products.down = True
        return reserve(sku=sku, quantity=quantity, reference=reference, order=order)

    def release(*, sku, reference):
        products.down = False
        return products.stock_release(sku=sku, reference=reference)

    monkeypatch.setattr("apps.orders.products_client.stock_reserve", fail_second)
    monkeypatch.setattr("apps.orders.products_client.stock_release", release)
    response = place(bob, ("mug-blue", 4), ("sticker-pack", 1))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert products.stock["mug-blue"] == 100 and products.reservations == {}
    assert Order.objects.count() == 0


def test_a_release_that_fails_too_still_leaves_no_order(bob, products, monkeypatch, caplog):
    reserve = products.stock_reserve

    def fail_second(*, sku, quantity, reference, order):
        if products.calls:
            products.down = True
        return reserve(sku=sku, quantity=quantity, reference=reference, order=order)

    monkeypatch.setattr("apps.orders.products_client.stock_reserve", fail_second)
    assert place(bob, ("mug-blue", 4), ("sticker-pack", 1)).status_code == 503
    assert Order.objects.count() == 0
    assert "event=release_failed sku=mug-blue" in caplog.text


def test_cancelling_returns_the_stock(bob, products):
    order_id = place(bob, ("mug-blue", 2), ("sticker-pack", 3)).json()["id"]
    assert products.stock == {"mug-blue": 98, "sticker-pack": 97}
    assert bob.post(f"/api/orders/{order_id}/cancel/").status_code == 200
    assert products.stock == {"mug-blue": 100, "sticker-pack": 100}


def test_cancelling_with_products_down_is_503_and_can_be_retried(bob, products):
    order_id = place(bob, ("mug-blue", 2)).json()["id"]
    products.down = True
    response = bob.post(f"/api/orders/{order_id}/cancel/")
    assert response.status_code == 503 and response.json()["code"] == "service_unavailable"
    assert Order.objects.get(pk=order_id).status == Order.Status.PENDING
    products.down = False
    assert bob.post(f"/api/orders/{order_id}/cancel/").json()["status"] == "cancelled"
    assert products.stock["mug-blue"] == 100
