"""The whole system across real HTTP: a token from the issuer, verified by orders and products against
the JWKS they fetched from the issuer over HTTP."""

import jwt
import pytest
import requests

from tests.keys import mint_token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def test_a_token_from_the_issuer_works_at_both_apps(stack):
    access = stack.token("bob")["access"]
    products = requests.get(f"{stack.internal['products']}/api/products/", headers=bearer(access), timeout=10)
    assert products.status_code == 200
    assert {p["sku"] for p in products.json()["results"]} >= {"mug-blue", "tshirt-logo"}
    orders = requests.get(f"{stack.internal['orders']}/api/orders/", headers=bearer(access), timeout=10)
    assert orders.status_code == 200


def test_the_curl_walkthrough(stack):
    bob = stack.token("bob")["access"]
    placed = requests.post(
        f"{stack.internal['orders']}/api/orders/",
        json={"sku": "mug-blue", "quantity": 2},
        headers=bearer(bob),
        timeout=10,
    )
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["lines"] == [{"sku": "mug-blue", "quantity": 2, "unit_price": "9.50"}]
    assert order["total"] == "19.00"
    mine = requests.get(f"{stack.internal['orders']}/api/orders/", headers=bearer(bob), timeout=10).json()["results"]
    assert order["id"] in [o["id"] for o in mine]

    carol = stack.token("carol")["access"]
    refused = requests.get(f"{stack.internal['orders']}/api/orders/", headers=bearer(carol), timeout=10)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_narrowed_to_products_is_refused_by_orders(stack):
    narrowed = stack.token("bob", audience="products")["access"]
    assert jwt.decode(narrowed, options={"verify_signature": False})["aud"] == ["products"]
    assert (
        requests.get(f"{stack.internal['products']}/api/products/", headers=bearer(narrowed), timeout=10).status_code
        == 200
    )
    assert (
        requests.get(f"{stack.internal['orders']}/api/orders/", headers=bearer(narrowed), timeout=10).status_code == 401
    )


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        mint_token(),  # signed by a key the issuer never published
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
    ],
)
def test_hostile_tokens_get_401_never_5xx(stack, token):
    for site in ("orders", "products"):
        response = requests.get(f"{stack.internal[site]}/api/{site}/", headers=bearer(token), timeout=10)
        assert response.status_code == 401


def test_refresh_then_logout_over_http(stack):
    pair = stack.token("bob")
    refreshed = requests.post(
        f"{stack.internal['issuer']}/api/token/refresh/", json={"refresh": pair["refresh"]}, timeout=10
    )
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert (
        requests.post(
            f"{stack.internal['issuer']}/api/logout/", json={"refresh": new["refresh"]}, timeout=10
        ).status_code
        == 200
    )
    again = requests.post(
        f"{stack.internal['issuer']}/api/token/refresh/", json={"refresh": new["refresh"]}, timeout=10
    )
    assert again.status_code == 401


def test_discovery_and_jwks_over_http(stack):
    discovery = requests.get(f"{stack.internal['issuer']}/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == stack.url["issuer"]
    jwks = requests.get(f"{stack.internal['issuer']}/.well-known/jwks.json", timeout=10)
    assert jwks.headers["Cache-Control"].startswith("public, max-age=")
    access = stack.token("alice")["access"]
    kid = jwt.get_unverified_header(access)["kid"]
    assert kid in [k["kid"] for k in jwks.json()["keys"]]
