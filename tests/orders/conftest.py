"""orders tests run against a relying app that trusts the test key; products is replaced at its client."""

from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.orders import products_client
from tests.keys import mint_token

PRICES = {"mug-blue": Decimal("9.50"), "sticker-pack": Decimal("3.20")}


@dataclass
class FakeProducts:
    """A products stand-in at the HTTP client seam (the real one is exercised in tests/integration): stock,
    and the reservations held by reference, as products keeps them."""

    stock: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PRICES, 100))
    reservations: dict[str, tuple[str, int]] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)  # reservation reference -> order reference
    confirmed: set[str] = field(default_factory=set)  # confirmed reservation references
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    down: bool = False

    def stock_reserve(self, *, sku: str, quantity: int, reference: str, order: str) -> Decimal:
        self.calls.append(("reserve", sku, reference))
        if self.down:
            raise products_client.ProductsUnavailable("connection refused")
        if sku not in PRICES:
            raise products_client.ProductNotFound(sku)
        if reference in self.reservations and self.reservations[reference] != (sku, quantity):
            raise products_client.ReferenceInUse(sku)
        if reference not in self.reservations:
            if self.stock[sku] < quantity:
                raise products_client.OutOfStock(sku)
            self.stock[sku] -= quantity
            self.reservations[reference] = (sku, quantity)
            self.orders[reference] = order
        return PRICES[sku]

    def reservations_confirm(self, *, order: str) -> tuple[int, int]:
        self.calls.append(("confirm", "", order))
        if self.down:
            raise products_client.ProductsUnavailable("connection refused")
        lines = {reference for reference, of in self.orders.items() if of == order}
        live = lines & set(self.reservations)
        self.confirmed |= live
        return len(live), len(lines - live - self.confirmed)

    def stock_release(self, *, sku: str, reference: str) -> int:
        self.calls.append(("release", sku, reference))
        if self.down:
            raise products_client.ProductsUnavailable("connection refused")
        held = self.reservations.pop(reference, None)
        if held is None:
            return 0
        self.stock[held[0]] += held[1]
        return held[1]


@pytest.fixture(autouse=True)
def _trust_test_key(relying_app):
    return relying_app


@pytest.fixture(autouse=True)
def products(monkeypatch) -> FakeProducts:
    fake = FakeProducts()
    monkeypatch.setattr(products_client, "stock_reserve", fake.stock_reserve)
    monkeypatch.setattr(products_client, "stock_release", fake.stock_release)
    monkeypatch.setattr(products_client, "reservations_confirm", fake.reservations_confirm)
    return fake


@pytest.fixture
def bob() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_token(sub='2', username='bob')}")
    return client


def place(client: APIClient, *lines: tuple[str, int]):
    return client.post("/api/orders/", {"lines": [{"sku": s, "quantity": q} for s, q in lines]}, format="json")
