"""orders in the browser: the browsable API's form places an order with the cookie when its CSRF token is
there, and not without it; the script page ships its code as a static file and its configuration as JSON."""

import json
import re

import pytest
from django.test import Client

from apps.orders.models import Order
from tests.keys import mint_token

pytestmark = pytest.mark.django_db

HTML = "text/html,application/xhtml+xml"


@pytest.fixture
def browser():
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT=HTML)
    client.cookies["sso_access"] = mint_token()
    return client


def csrf_token_of(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_the_browsable_api_form_places_an_order(browser):
    page = browser.get("/api/orders/").content.decode()
    assert 'id="post-object-form"' in page
    response = browser.post(
        "/api/orders/", {"sku": "mug-blue", "quantity": "2", "csrfmiddlewaretoken": csrf_token_of(page)}
    )
    assert response.status_code == 201
    order = Order.objects.get()
    assert (order.owner_username, order.lines.get().quantity) == ("bob", 2)


def test_the_form_without_its_csrf_token_is_refused(browser):
    browser.get("/api/orders/")
    response = browser.post("/api/orders/", {"sku": "mug-blue", "quantity": "2"})
    assert response.status_code == 403
    assert "CSRF Failed" in response.content.decode()
    assert not Order.objects.exists()


def test_the_form_from_another_origin_is_refused_even_with_a_token(browser, caplog):
    page = browser.get("/api/orders/").content.decode()
    response = browser.post(
        "/api/orders/",
        {"sku": "mug-blue", "quantity": "2", "csrfmiddlewaretoken": csrf_token_of(page)},
        HTTP_ORIGIN="http://localhost:8002",  # a sibling site: trusted for CORS reads, never for this site's forms
    )
    assert response.status_code == 403
    assert "CSRF Failed" in response.content.decode()
    assert "Origin checking failed" in caplog.text
    assert not Order.objects.exists()


def test_the_script_page(client, settings):
    response = client.get("/script/")
    assert response.status_code == 200
    page = response.content.decode()
    config = json.loads(
        re.search(r'<script id="sso-config" type="application/json">(.*?)</script>', page, re.S).group(1)
    )
    assert config == {
        "tokenUrl": f"{settings.SSO_ISSUER_URL}/session/token/",
        "issuerHome": f"{settings.SSO_ISSUER_URL}/",
        "signInUrl": f"{settings.SSO_ISSUER_URL}/login/",
        "signOutUrl": f"{settings.SSO_ISSUER_URL}/logout/",
        "ordersUrl": f"{settings.ORDERS_URL}/api/orders/",
        "productsUrl": f"{settings.PRODUCTS_URL}/api/products/",
    }
    scripts = re.findall(r"<script([^>]*)>", page)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts), "no inline script"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert client.get("/static/orders/script.js").status_code == 200
