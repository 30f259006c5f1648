"""Placing an order is idempotent with an `Idempotency-Key` header: a retry gets the first answer and products
is not asked again; the same key with other lines is refused; a retry after a crash that reserved but never
committed reuses that reservation rather than reserving twice."""

import pytest
from django.db import OperationalError

from apps.orders import services
from apps.orders.models import Order, OrderLine
from tests.orders.conftest import place
from tests.orders.test_orders_api import client_for

pytestmark = pytest.mark.django_db

LINES = {"lines": [{"sku": "mug-blue", "quantity": 2}, {"sku": "sticker-pack", "quantity": 1}]}


def post(client, body=LINES, key: str | None = "key-1", **extra):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post("/api/orders/", body, format="json", **headers, **extra)


def reserves(products) -> int:
    return sum(call[0] == "reserve" for call in products.calls)


def test_a_retry_with_the_same_key_gets_the_first_answer_and_reserves_nothing_more(bob, products):
    first = post(bob)
    assert first.status_code == 201
    assert reserves(products) == 2
    again = post(bob)
    assert (again.status_code, again.json()) == (201, first.json())
    assert reserves(products) == 2, "products was not asked again"
    assert Order.objects.count() == 1 and products.stock == {"mug-blue": 98, "sticker-pack": 99}


def test_the_first_answer_is_replayed_even_after_the_order_changed(bob):
    first = post(bob).json()
    assert bob.post(f"/api/orders/{first['id']}/cancel/").json()["status"] == "cancelled"
    assert post(bob).json() == first


def test_the_same_lines_in_the_form_shape_are_the_same_request(bob):
    first = post(bob, {"sku": "mug-blue", "quantity": 2}).json()
    assert post(bob, {"lines": [{"sku": "mug-blue", "quantity": 2}]}).json() == first


def test_the_same_key_with_other_lines_is_422_and_reserves_nothing(bob, products):
    post(bob)
    refused = post(bob, {"sku": "mug-blue", "quantity": 1})
    assert refused.status_code == 422
    assert refused.json() == {
        "detail": "This Idempotency-Key was already used for a different order; send a new key for a new order.",
        "code": "idempotency_key_reused",
    }
    assert reserves(products) == 2 and Order.objects.count() == 1


def test_keys_belong_to_their_owner(bob):
    dave = client_for("4", "dave")
    assert post(bob).json()["owner_username"] == "bob"
    theirs = post(dave, {"sku": "mug-blue", "quantity": 1})
    assert theirs.status_code == 201 and theirs.json()["owner_username"] == "dave"
    assert Order.objects.count() == 2


def test_other_keys_and_no_key_place_new_orders(bob):
    assert post(bob, key="key-1").json()["id"] != post(bob, key="key-2").json()["id"]
    assert post(bob, key=None).json()["id"] != post(bob, key=None).json()["id"]
    assert Order.objects.count() == 4


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9"])
def test_a_malformed_key_is_400(bob, products, key):
    response = post(bob, key=key)
    assert response.status_code == 400 and response.json()["code"] == "invalid_key"
    assert products.calls == []


def crash_before_the_commit(monkeypatch) -> None:
    """What a process killed between reserving and committing leaves: the reservations at products, no order
    (the transaction rolls back), and nothing released (the process is gone)."""

    def commit_fails(*args, **kwargs):
        raise OperationalError("the process died here")

    monkeypatch.setattr(OrderLine.objects, "bulk_create", commit_fails)
    monkeypatch.setattr(services, "_release_quietly", lambda reserved: None)


def test_a_retry_after_a_crash_before_the_commit_reuses_the_reservations(bob, products, monkeypatch):
    with monkeypatch.context() as crashing:
        crash_before_the_commit(crashing)
        # The database failing mid-order is a 503 with Retry-After (webguard.unavailable), never a 500.
        assert post(bob).status_code == 503
    assert Order.objects.count() == 0
    assert products.stock == {"mug-blue": 98, "sticker-pack": 99}, "held by the attempt that died"
    retried = post(bob)
    assert retried.status_code == 201
    assert products.stock == {"mug-blue": 98, "sticker-pack": 99}, "the retry reserved nothing twice"
    order = Order.objects.get()
    assert order.confirmed_at is not None
    assert products.confirmed == set(products.reservations), "and confirmed them, so products keeps them"


def test_a_retry_after_a_crash_with_other_quantities_is_422(bob, products, monkeypatch):
    with monkeypatch.context() as crashing:
        crash_before_the_commit(crashing)
        # The database failing mid-order is a 503 with Retry-After (webguard.unavailable), never a 500.
        assert post(bob).status_code == 503
    refused = post(bob, {"lines": [{"sku": "mug-blue", "quantity": 3}]})
    assert refused.status_code == 422 and refused.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 0


def test_a_placed_order_is_confirmed_at_products_and_a_missed_confirmation_is_retried(bob, products):
    order = Order.objects.get(pk=place(bob, ("mug-blue", 1)).json()["id"])
    assert order.confirmed_at is not None and products.confirmed == set(products.reservations)
    # products went down between the commit and the confirmation:
    products.confirmed.clear()
    Order.objects.update(confirmed_at=None)
    assert services.orders_confirm() == 1
    assert products.confirmed == set(products.reservations)
    assert services.orders_confirm() == 0, "nothing left to confirm"


def test_an_order_products_already_gave_the_stock_back_for_expires(bob, products):
    order_id = place(bob, ("mug-blue", 3)).json()["id"]
    order = Order.objects.get(pk=order_id)
    # products' grace period passed before it heard from orders: it put the stock back.
    products.confirmed.clear()
    products.stock_release(sku="mug-blue", reference=services.reservation_reference(order=order, index=0))
    Order.objects.update(confirmed_at=None)
    assert services.orders_confirm() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED and products.stock["mug-blue"] == 100


def test_orders_come_a_page_at_a_time_newest_first(bob):
    Order.objects.bulk_create(Order(owner_sub="2", owner_username="bob") for _ in range(45))
    first = bob.get("/api/orders/").json()
    assert (first["count"], len(first["results"]), first["previous"]) == (45, 20, None)
    assert first["next"].endswith("/api/orders/?page=2")
    ids = [o["id"] for o in first["results"]]
    assert ids == sorted(ids, reverse=True)
    assert len(bob.get("/api/orders/?page=3").json()["results"]) == 5
    assert len(bob.get("/api/orders/?page_size=1000").json()["results"]) == 45, "up to the maximum of 100"
    page = bob.get("/api/orders/", HTTP_ACCEPT="text/html").content.decode()
    assert 'class="pagination' in page and "?page=2" in page
    assert "Idempotency-Key" in page, "the API description tells clients how to retry safely"
