"""Service-to-service calls across real HTTP: orders reserves stock at products with its own service token.
Stock drops when an order is placed and comes back when it is cancelled; products down means a clean 503 and
no order; and on PostgreSQL, concurrent orders never take stock below zero."""

from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests

from tests.servers import DEMO_SERVICE_SECRET, fresh_postgres_databases, prepare_stack, running_stack


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def stock_of(stack, token: str, sku: str) -> int:
    response = requests.get(f"{stack.internal['products']}/api/products/{sku}/", headers=bearer(token), timeout=10)
    response.raise_for_status()
    return response.json()["stock"]


def set_stock(stack, sku: str, stock: int) -> None:
    stack.manage(
        "products",
        "shell",
        "-c",
        f"from apps.products.models import Product; Product.objects.filter(sku='{sku}').update(stock={stock})",
    )


def place(stack, token: str, sku: str, quantity: int = 1) -> requests.Response:
    return requests.post(
        f"{stack.internal['orders']}/api/orders/",
        json={"sku": sku, "quantity": quantity},
        headers=bearer(token),
        timeout=30,
    )


def service_token(stack, audience: str = "products") -> str:
    response = requests.post(
        f"{stack.internal['issuer']}/api/service-token/",
        json={"client_id": "orders", "client_secret": DEMO_SERVICE_SECRET, "audience": audience},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("service-calls")) as stack:
        yield stack


def test_placing_an_order_makes_stock_drop_and_cancelling_returns_it(stack):
    bob = stack.token("bob")["access"]
    before = stock_of(stack, bob, "mug-blue")
    placed = place(stack, bob, "mug-blue", 2)
    assert placed.status_code == 201, placed.text
    assert placed.json()["lines"] == [{"sku": "mug-blue", "quantity": 2, "unit_price": "9.50"}]
    assert stock_of(stack, bob, "mug-blue") == before - 2
    cancelled = requests.post(
        f"{stack.internal['orders']}/api/orders/{placed.json()['id']}/cancel/", headers=bearer(bob), timeout=30
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert stock_of(stack, bob, "mug-blue") == before


def test_products_records_the_reservation_as_made_by_the_orders_service(stack):
    bob = stack.token("bob")["access"]
    assert place(stack, bob, "sticker-pack", 3).status_code == 201
    holders = stack.manage(
        "products",
        "shell",
        "-c",
        "from apps.products.models import Reservation; print(sorted({r.client for r in Reservation.objects.all()}))",
    )
    assert holders.strip().splitlines()[-1] == "['service:orders']"


def test_the_reservation_endpoint_takes_service_tokens_with_the_scope_only(stack):
    url = f"{stack.internal['products']}/api/products/tshirt-logo/reserve/"
    body = {"quantity": 1, "reference": "integration-check"}
    for person in ("bob", "alice", "carol"):
        refused = requests.post(url, json=body, headers=bearer(stack.token(person)["access"]), timeout=10)
        assert refused.status_code == 401, person
    token = service_token(stack)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["aud"], claims["token_type"], claims["scope"]) == (
        "service:orders",
        "products",
        "service",
        "stock:reserve",
    )
    reserved = requests.post(url, json=body, headers=bearer(token), timeout=10)
    assert reserved.status_code == 201 and reserved.json()["unit_price"] == "18.00"
    released = requests.post(
        f"{stack.internal['products']}/api/products/tshirt-logo/release/",
        json={"reference": "integration-check"},
        headers=bearer(token),
        timeout=10,
    )
    assert released.json()["released"] == 1
    # The service token is for products only: orders and the people's endpoints refuse it.
    assert requests.get(f"{stack.internal['orders']}/api/orders/", headers=bearer(token), timeout=10).status_code == 401
    assert (
        requests.get(f"{stack.internal['products']}/api/products/", headers=bearer(token), timeout=10).status_code
        == 401
    )


def test_out_of_stock_is_409_and_leaves_the_stock_alone(stack):
    bob = stack.token("bob")["access"]
    set_stock(stack, "tshirt-logo", 1)
    refused = place(stack, bob, "tshirt-logo", 2)
    assert refused.status_code == 409 and refused.json()["code"] == "out_of_stock"
    assert stock_of(stack, bob, "tshirt-logo") == 1


def test_orders_keeps_working_on_its_cached_service_token_while_the_issuer_is_down(stack):
    bob = stack.token("bob")["access"]
    assert place(stack, bob, "mug-blue").status_code == 201  # the token is cached now, if it was not before
    stack.stop("issuer")
    try:
        placed = place(stack, bob, "mug-blue")
        assert placed.status_code == 201, placed.text
    finally:
        stack.start("issuer")


def test_products_down_is_a_clean_503_and_no_order_is_written(stack):
    bob = stack.token("bob")["access"]
    orders_url = f"{stack.internal['orders']}/api/orders/"
    before = requests.get(orders_url, headers=bearer(bob), timeout=10).json()
    stack.stop("products")
    try:
        response = place(stack, bob, "mug-blue")
        assert response.status_code == 503
        assert response.json() == {
            "detail": "The product catalogue is unavailable; try again shortly.",
            "code": "service_unavailable",
        }
        assert requests.get(orders_url, headers=bearer(bob), timeout=10).json() == before
    finally:
        stack.start("products")


# ---- The stock race on PostgreSQL --------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_stack(postgres_url, tmp_path_factory):
    """The three sites on fresh PostgreSQL databases, products and orders with two workers of four threads."""
    with fresh_postgres_databases(postgres_url) as database_env:
        stack = prepare_stack(tmp_path_factory.mktemp("stock-race"), extra_env=database_env)
        try:
            stack.start_all(workers={"products": 2, "orders": 2})
            yield stack
        finally:
            stack.stop_all()


@pytest.mark.services
def test_concurrent_reservations_never_oversell_on_postgresql(pg_stack):
    set_stock(pg_stack, "mug-blue", 5)
    token = service_token(pg_stack)
    url = f"{pg_stack.internal['products']}/api/products/mug-blue/reserve/"

    def reserve(n: int) -> int:
        return requests.post(
            url, json={"quantity": 1, "reference": f"race-{n}"}, headers=bearer(token), timeout=60
        ).status_code

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(reserve, range(24)))
    assert sorted(statuses) == [201] * 5 + [409] * 19
    assert stock_of(pg_stack, pg_stack.token("bob")["access"], "mug-blue") == 0


@pytest.mark.services
def test_concurrent_orders_never_take_stock_below_zero_on_postgresql(pg_stack):
    set_stock(pg_stack, "tshirt-logo", 3)
    bob = pg_stack.token("bob")["access"]
    assert place(pg_stack, bob, "sticker-pack").status_code == 201  # each orders worker warms its token cache
    assert place(pg_stack, bob, "sticker-pack").status_code == 201

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda _: place(pg_stack, bob, "tshirt-logo"), range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 3 + [409] * 9, [r.text for r in responses if r.status_code not in (201, 409)]
    assert stock_of(pg_stack, bob, "tshirt-logo") == 0
    mine = requests.get(f"{pg_stack.internal['orders']}/api/orders/", headers=bearer(bob), timeout=10).json()["results"]
    assert sum(line["sku"] == "tshirt-logo" for order in mine for line in order["lines"]) == 3
