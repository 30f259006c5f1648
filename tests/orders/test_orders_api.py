"""The orders API: ownership, placing, cancelling, staff view, validation."""

import pytest
from rest_framework.test import APIClient

from apps.orders.models import Order
from tests.keys import mint_token

pytestmark = pytest.mark.django_db


def client_for(sub: str, username: str, **claims) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_token(sub=sub, username=username, **claims)}")
    return client


@pytest.fixture
def bob():
    return client_for("2", "bob")


@pytest.fixture
def dave():
    return client_for("4", "dave")


def test_place_an_order_with_one_sku(bob, products):
    response = bob.post("/api/orders/", {"sku": "mug-blue", "quantity": 3}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["owner_username"] == "bob" and body["status"] == "pending"
    assert body["lines"] == [{"sku": "mug-blue", "quantity": 3, "unit_price": "9.50"}]
    assert body["total"] == "28.50"
    assert products.calls[0][:2] == ("reserve", "mug-blue")
    assert products.stock["mug-blue"] == 97


def test_place_an_order_with_lines(bob):
    lines = [{"sku": "mug-blue", "quantity": 1}, {"sku": "sticker-pack", "quantity": 2}]
    response = bob.post("/api/orders/", {"lines": lines}, format="json")
    assert response.status_code == 201
    assert response.json()["total"] == "15.90"


def test_the_html_form_shape_works(bob):
    response = bob.post("/api/orders/", {"sku": "mug-blue", "quantity": "1"})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"sku": "mug-blue", "quantity": 0},
        {"sku": "bad sku!"},
        {"lines": []},
        {"lines": [{"sku": "mug-blue"}], "sku": "mug-blue"},
    ],
)
def test_bad_orders_are_400_with_field_errors(bob, body):
    assert bob.post("/api/orders/", body, format="json").status_code == 400


def test_unknown_product_is_400(bob):
    response = bob.post("/api/orders/", {"sku": "no-such-thing"}, format="json")
    assert response.status_code == 400


def test_products_down_is_a_clean_503_and_nothing_is_written(bob, products):
    products.down = True
    response = bob.post("/api/orders/", {"sku": "mug-blue"}, format="json")
    assert response.status_code == 503
    assert response.json() == {
        "detail": "The product catalogue is unavailable; try again shortly.",
        "code": "service_unavailable",
    }
    assert bob.get("/api/orders/").json()["results"] == []
    assert Order.objects.count() == 0


def test_people_see_only_their_own_orders(bob, dave):
    bob.post("/api/orders/", {"sku": "mug-blue"}, format="json")
    assert dave.get("/api/orders/").json()["results"] == []
    assert len(bob.get("/api/orders/").json()["results"]) == 1
    order_id = bob.get("/api/orders/").json()["results"][0]["id"]
    assert dave.get(f"/api/orders/{order_id}/").status_code == 404


def test_staff_see_all_orders(bob):
    bob.post("/api/orders/", {"sku": "mug-blue"}, format="json")
    staff = client_for("1", "alice", staff=True)
    assert len(staff.get("/api/orders/").json()["results"]) == 1


def test_owner_cancels_a_pending_order_once(bob, dave):
    order_id = bob.post("/api/orders/", {"sku": "mug-blue"}, format="json").json()["id"]
    assert dave.post(f"/api/orders/{order_id}/cancel/").status_code == 404
    response = bob.post(f"/api/orders/{order_id}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert bob.post(f"/api/orders/{order_id}/cancel/").status_code == 400


def test_browsable_api_renders(bob):
    response = bob.get("/api/orders/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"bob" in response.content
