"""One order, followed across the sites: the request id orders was given goes with its calls to the issuer
(the service token) and to products (the reservation)."""

import pytest

from tests.fake_http import install
from tests.orders.test_products_client import OrdersNetwork

pytestmark = pytest.mark.django_db


@pytest.fixture
def products():
    """Overrides the conftest stand-in: the real client calls over the fake network."""
    return None


def test_an_order_sends_its_request_id_to_the_issuer_and_to_products(bob, monkeypatch):
    network = install(monkeypatch, OrdersNetwork())
    response = bob.post(
        "/api/orders/",
        {"lines": [{"sku": "mug-blue", "quantity": 1}]},
        format="json",
        headers={"X-Request-ID": "trace-order-42"},
    )
    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "trace-order-42"
    calls = network.calls_to("/api/service-token/") + network.products_calls()
    assert {url.split("/api/")[1].split("/")[0] for url, _body, _headers in calls} == {"service-token", "products"}
    assert [headers.get("X-Request-ID") for _url, _body, headers in calls] == ["trace-order-42"] * len(calls)
