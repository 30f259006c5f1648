"""Reserving and releasing stock: service tokens only, with scope stock:reserve; never below zero."""

from decimal import Decimal

import jwt
import pytest
from rest_framework.test import APIClient

from apps.products.models import Product, Reservation
from tests.keys import mint_token

pytestmark = pytest.mark.django_db


def service_token(**claims) -> str:
    defaults = {
        "sub": "service:orders",
        "aud": "products",
        "token_type": "service",
        "scope": "stock:reserve",
        "sid": None,
        "username": None,
        "roles": None,
    }
    return mint_token(**{**defaults, **claims})


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def mug():
    return Product.objects.create(sku="mug-blue", name="Blue mug", price=Decimal("9.50"), stock=5)


@pytest.fixture
def orders_service():
    return client_with(service_token())


def reserve(client: APIClient, quantity: int = 1, reference: str = "order-1-0", sku: str = "mug-blue"):
    return client.post(f"/api/products/{sku}/reserve/", {"quantity": quantity, "reference": reference}, format="json")


def stock() -> int:
    return Product.objects.get(sku="mug-blue").stock


def test_a_service_reserves_stock_and_gets_the_price(mug, orders_service):
    response = reserve(orders_service, 2)
    assert response.status_code == 201
    assert response.json() == {
        "sku": "mug-blue",
        "quantity": 2,
        "unit_price": "9.50",
        "reference": "order-1-0",
        "order": "order-1-0",
    }
    assert stock() == 3
    reservation = Reservation.objects.get()
    assert (reservation.client, reservation.reference, reservation.quantity) == ("service:orders", "order-1-0", 2)


def test_repeating_a_reservation_does_not_take_the_stock_twice(mug, orders_service):
    assert reserve(orders_service, 2).status_code == 201
    again = reserve(orders_service, 2)
    assert again.status_code == 200 and again.json()["quantity"] == 2
    assert stock() == 3
    different = reserve(orders_service, 3)
    assert different.status_code == 409 and different.json()["code"] == "reference_in_use"
    assert stock() == 3


def test_not_enough_stock_is_409_and_nothing_changes(mug, orders_service):
    response = reserve(orders_service, 6)
    assert response.status_code == 409
    assert response.json() == {"detail": "Not enough stock of mug-blue: 5 left.", "code": "out_of_stock"}
    assert stock() == 5 and not Reservation.objects.exists()
    assert reserve(orders_service, 5).status_code == 201
    assert stock() == 0
    assert reserve(orders_service, 1, reference="order-2-0").status_code == 409


def test_unknown_product_is_404(orders_service):
    assert reserve(orders_service, sku="no-such-thing").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"quantity": 0, "reference": "r"},
        {"quantity": 1},
        {"quantity": 1, "reference": "has spaces"},
        {"quantity": "x", "reference": "r"},
    ],
)
def test_bad_reservations_are_400(mug, orders_service, body):
    assert orders_service.post("/api/products/mug-blue/reserve/", body, format="json").status_code == 400
    assert stock() == 5


def test_release_puts_the_stock_back_once(mug, orders_service):
    reserve(orders_service, 2)
    release = orders_service.post("/api/products/mug-blue/release/", {"reference": "order-1-0"}, format="json")
    assert release.status_code == 200 and release.json()["released"] == 2
    assert stock() == 5
    again = orders_service.post("/api/products/mug-blue/release/", {"reference": "order-1-0"}, format="json")
    assert again.json()["released"] == 0
    assert stock() == 5
    # Released, the reference may hold a new reservation.
    assert reserve(orders_service, 1).status_code == 201


def test_a_service_cannot_release_another_services_reservation(mug, orders_service):
    reserve(orders_service, 2)
    other = client_with(service_token(sub="service:billing"))
    released = other.post("/api/products/mug-blue/release/", {"reference": "order-1-0"}, format="json")
    assert released.json()["released"] == 0
    assert stock() == 3


@pytest.mark.parametrize(
    "claims",
    [
        {"username": "bob"},
        {"username": "alice", "staff": True},
        {"username": "carol", "roles": ["catalog_manager"]},
        {"username": "bob", "scope": "stock:reserve"},
    ],
    ids=["person", "staff", "catalog_manager", "person-with-a-scope-claim"],
)
def test_a_persons_access_token_is_refused_whatever_it_carries(mug, claims):
    response = reserve(client_with(mint_token(**claims)))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="products"'
    assert stock() == 5


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"scope": ""}, 403),
        ({"scope": "stock:read"}, 403),
        ({"scope": "stock:reserve-all"}, 403),
        ({"aud": "orders"}, 401),
        ({"aud": ["products", "orders"]}, 401),
        ({"sid": "session-1"}, 401),
        ({"token_type": "access"}, 401),
        ({"token_type": "password_reset"}, 401),
        ({"sub": "2"}, 401),
        ({"scope": None}, 401),
        ({"exp": 1000}, 401),
        ({"iss": "http://evil.example"}, 401),
    ],
)
def test_only_a_proper_service_token_with_the_scope_reserves(mug, claims, status):
    assert reserve(client_with(service_token(**claims))).status_code == status
    assert stock() == 5


def test_a_service_token_signed_by_another_key_is_refused(mug):
    assert reserve(client_with(service_token(key="other"))).status_code == 401


def test_no_credentials_is_401_with_a_challenge(mug):
    response = APIClient().post("/api/products/mug-blue/reserve/", {"quantity": 1, "reference": "r"}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_service_token_is_refused_where_people_are_expected(mug):
    orders_service = client_with(service_token())
    assert orders_service.get("/api/products/").status_code == 401
    assert orders_service.patch("/api/products/mug-blue/", {"stock": 999}, format="json").status_code == 401
    assert stock() == 5


def test_a_purpose_bound_token_is_never_an_access_token(mug):
    """A password-reset token is refused as an access token: signed by the issuer's own key it still has the
    wrong type and no session; as the issuer really makes it (HS256, issuer-only) the algorithm alone stops it."""
    reset_claims = {"token_type": "password_reset", "sid": None, "aud": "sso:password-reset", "fp": "x" * 32}
    rs256 = mint_token(**reset_claims)
    rs256_for_products = mint_token(**{**reset_claims, "aud": ["products"]})
    hs256 = jwt.encode(
        {
            "iss": "http://localhost:8000",
            "sub": "2",
            "aud": "products",
            "exp": 2**31,
            "iat": 0,
            "jti": "j",
            "token_type": "password_reset",
            "fp": "x",
        },
        "a-secret-only-the-issuer-has-32-bytes-or-more",
        algorithm="HS256",
    )
    for token in (rs256, rs256_for_products, hs256):
        assert client_with(token).get("/api/products/").status_code == 401
        assert reserve(client_with(token)).status_code == 401


def test_a_browser_opening_the_url_gets_405_not_a_sign_in_loop(mug):
    browser = APIClient()
    browser.cookies["sso_access"] = mint_token(username="bob")
    response = browser.get("/api/products/mug-blue/reserve/", HTTP_ACCEPT="text/html")
    assert response.status_code == 405
    assert client_with(service_token()).get("/api/products/mug-blue/release/").status_code == 405


def test_the_catalogue_pages_do_not_offer_the_service_endpoints(mug):
    page = client_with(mint_token(username="bob")).get("/api/products/mug-blue/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and b"/reserve/" not in page.content
