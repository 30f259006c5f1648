"""The products API: read with products access; write as catalog_manager or staff."""

import time
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.products.models import Product
from tests.keys import mint_token

pytestmark = pytest.mark.django_db


def client_for(**claims) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_token(**claims)}")
    return client


@pytest.fixture
def mug():
    return Product.objects.create(sku="mug-blue", name="Blue mug", price=Decimal("9.50"), stock=10)


NEW = {"sku": "cap-red", "name": "Red cap", "price": "12.00", "stock": 5}


def test_anyone_with_products_access_reads(mug):
    response = client_for(username="bob").get("/api/products/")
    assert response.status_code == 200
    assert response.json() == [
        {
            "sku": "mug-blue",
            "name": "Blue mug",
            "price": "9.50",
            "stock": 10,
            "updated_at": response.json()[0]["updated_at"],
        }
    ]
    assert client_for().get("/api/products/mug-blue/").json()["price"] == "9.50"


def test_a_token_without_products_audience_is_401(mug):
    assert client_for(aud=["sso", "orders"]).get("/api/products/").status_code == 401


def test_plain_users_cannot_write(mug):
    bob = client_for(username="bob")
    assert bob.post("/api/products/", NEW, format="json").status_code == 403
    assert bob.patch("/api/products/mug-blue/", {"price": "1.00"}, format="json").status_code == 403
    assert bob.delete("/api/products/mug-blue/").status_code == 403


def test_catalog_manager_writes(mug):
    carol = client_for(username="carol", roles=["catalog_manager"])
    assert carol.post("/api/products/", NEW, format="json").status_code == 201
    assert carol.patch("/api/products/mug-blue/", {"price": "11.00"}, format="json").json()["price"] == "11.00"
    # Deleting needs a recent second factor (tests/products/test_step_up.py).
    carol = client_for(
        username="carol", roles=["catalog_manager"], amr=["pwd", "otp", "mfa"], auth_time=int(time.time())
    )
    assert carol.delete("/api/products/cap-red/").status_code == 204


def test_staff_write():
    assert client_for(username="alice", staff=True).post("/api/products/", NEW, format="json").status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {**NEW, "price": "-1"},
        {**NEW, "price": "abc"},
        {**NEW, "sku": "has spaces"},
        {**NEW, "stock": -3},
        {"name": "no sku"},
    ],
)
def test_bad_input_is_400_with_field_errors(body):
    response = client_for(roles=["catalog_manager"]).post("/api/products/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) - {"detail", "code"}


def test_duplicate_sku_is_400(mug):
    response = client_for(roles=["catalog_manager"]).post("/api/products/", {**NEW, "sku": "mug-blue"}, format="json")
    assert response.status_code == 400
    assert "sku" in response.json()
