"""orders tests run against a relying app that trusts the test key; products is replaced at its client."""

from decimal import Decimal

import pytest

from apps.orders import products_client

PRICES = {"mug-blue": Decimal("9.50"), "sticker-pack": Decimal("3.20")}


@pytest.fixture(autouse=True)
def _trust_test_key(relying_app):
    return relying_app


@pytest.fixture(autouse=True)
def products(monkeypatch):
    """A products stand-in at the HTTP client seam (the real one is exercised in tests/integration)."""
    calls = []

    def product_price(*, sku: str, bearer_token: str) -> Decimal:
        calls.append((sku, bearer_token))
        if sku not in PRICES:
            raise products_client.ProductNotFound(sku)
        return PRICES[sku]

    monkeypatch.setattr(products_client, "product_price", product_price)
    return calls
