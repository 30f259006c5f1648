"""orders' client for products: it calls as itself with a cached service token, never with the person's."""

import json
from decimal import Decimal

import pytest
import requests
from django.conf import settings
from rest_framework.test import APIClient

from apps.orders import products_client
from tests.fake_http import FakeNetwork, install
from tests.fake_http import reply as response
from tests.keys import mint_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def products():
    """Overrides the conftest stand-in: these tests exercise the real client over a fake network."""
    return None


class OrdersNetwork(FakeNetwork):
    """The issuer's token endpoint and products' reservation endpoints, as orders sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens_issued = 0
        self.products_replies: list = []
        self.issuer_down = self.products_down = False
        self.route("/api/service-token/", self.issuer)
        self.route("/api/products/", self.products)

    def issuer(self, request):
        if self.issuer_down:
            raise requests.ConnectionError("issuer down")
        self.tokens_issued += 1
        return response(200, {"access_token": f"svc-{self.tokens_issued}", "expires_in": 300})

    def products(self, request):
        if self.products_down:
            raise requests.ConnectionError("products down")
        if self.products_replies:
            return self.products_replies.pop(0)
        return response(201, {"unit_price": "9.50"})

    def products_calls(self):
        return self.calls_to("/api/products/")


@pytest.fixture
def network(monkeypatch) -> OrdersNetwork:
    return install(monkeypatch, OrdersNetwork())


def test_the_service_token_is_fetched_once_and_cached(network):
    assert products_client.stock_reserve(sku="mug-blue", quantity=1, reference="r1", order="o1") == Decimal("9.50")
    products_client.stock_reserve(sku="mug-blue", quantity=1, reference="r2", order="o1")
    assert network.tokens_issued == 1
    token_request = network.requests[0]
    assert token_request[0] == f"{settings.SSO_CLIENT['ISSUER_INTERNAL_URL']}/api/service-token/"
    assert token_request[1] == {
        "grant_type": "client_credentials",
        "client_id": "orders",
        "client_secret": settings.ORDERS_SERVICE_CLIENT_SECRET,
        "audience": "products",
        "scope": "stock:reserve",
    }
    assert [call[2]["Authorization"] for call in network.products_calls()] == ["Bearer svc-1", "Bearer svc-1"]
    assert network.products_calls()[0][0] == f"{settings.PRODUCTS_INTERNAL_URL}/api/products/mug-blue/reserve/"


def test_a_401_from_products_renews_the_token_once(network):
    network.products_replies = [response(401, {"detail": "x", "code": "token_not_valid"})]
    products_client.stock_reserve(sku="mug-blue", quantity=1, reference="r1", order="o1")
    assert network.tokens_issued == 2
    assert [call[2]["Authorization"] for call in network.products_calls()] == ["Bearer svc-1", "Bearer svc-2"]


def test_two_401s_mean_products_is_unavailable(network):
    network.products_replies = [response(401, {}), response(401, {})]
    with pytest.raises(products_client.ProductsUnavailable):
        products_client.stock_reserve(sku="mug-blue", quantity=1, reference="r1", order="o1")


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (response(404, {"detail": "Not found.", "code": "not_found"}), products_client.ProductNotFound),
        (response(409, {"detail": "x", "code": "out_of_stock"}), products_client.OutOfStock),
        (response(409, {"detail": "x", "code": "reference_in_use"}), products_client.ReferenceInUse),
        (response(403, {"detail": "x", "code": "permission_denied"}), products_client.ProductsUnavailable),
        (response(500, b"<html>oops</html>"), products_client.ProductsUnavailable),
        (response(201, b"not json"), products_client.ProductsUnavailable),
        (response(201, {"unit_price": "abc"}), products_client.ProductsUnavailable),
    ],
)
def test_products_answers_map_to_errors(network, reply, error):
    network.products_replies = [reply]
    with pytest.raises(error):
        products_client.stock_reserve(sku="mug-blue", quantity=1, reference="r1", order="o1")


def test_products_down_means_products_is_unavailable(network):
    network.products_down = True
    with pytest.raises(products_client.ProductsUnavailable):
        products_client.stock_reserve(sku="mug-blue", quantity=1, reference="r1", order="o1")


def test_release_reports_the_quantity_put_back(network):
    network.products_replies = [response(200, {"sku": "mug-blue", "reference": "r1", "released": 2})]
    assert products_client.stock_release(sku="mug-blue", reference="r1") == 2
    assert network.products_calls()[0][1] == {"reference": "r1"}


def test_a_reservation_names_its_order_and_a_confirmation_reports_what_is_held(network):
    products_client.stock_reserve(sku="mug-blue", quantity=2, reference="o1-0", order="o1")
    assert network.products_calls()[0][1] == {"quantity": 2, "reference": "o1-0", "order": "o1"}
    network.products_replies = [response(200, {"order": "o1", "confirmed": 1, "released": 0})]
    assert products_client.reservations_confirm(order="o1") == (1, 0)
    assert network.products_calls()[1][1] == {"order": "o1"}
    for reply in (response(500, b"oops"), response(200, {"order": "o1"})):
        network.products_replies = [reply]
        with pytest.raises(products_client.ProductsUnavailable):
            products_client.reservations_confirm(order="o1")


def test_issuer_down_means_no_token_and_a_clear_503(network):
    network.issuer_down = True
    with pytest.raises(products_client.ServiceTokenUnavailable):
        products_client.stock_reserve(sku="mug-blue", quantity=1, reference="r1", order="o1")
    bob = APIClient()
    bob.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_token(sub='2', username='bob')}")
    placed = bob.post("/api/orders/", {"sku": "mug-blue"}, format="json")
    assert placed.status_code == 503
    assert "sign-on service unavailable" in placed.json()["detail"]


def test_an_order_calls_products_with_the_service_token_never_the_persons(network):
    person_token = mint_token(sub="2", username="bob")
    bob = APIClient()
    bob.credentials(HTTP_AUTHORIZATION=f"Bearer {person_token}")
    assert bob.post("/api/orders/", {"sku": "mug-blue", "quantity": 2}, format="json").status_code == 201
    assert network.products_calls()
    assert all(person_token not in json.dumps(call) for call in network.requests)
    assert network.products_calls()[0][2]["Authorization"] == "Bearer svc-1"
