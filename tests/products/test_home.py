"""products' home page and bar: carol (products only) is shown the way back to the issuer and no app she may
not use; the catalogue's item page keeps its edit (PUT) form for her."""

import pytest
from django.test import Client

from tests.keys import mint_token

pytestmark = pytest.mark.django_db

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def carol():
    client = Client(HTTP_ACCEPT=HTML)
    client.cookies["sso_access"] = mint_token(username="carol", roles=["catalog_manager"], aud=["sso", "products"])
    return client


def test_the_home_page_names_the_app_and_its_catalogue(carol):
    page = carol.get("/").content.decode()
    assert '<h1 id="root-title">Products</h1>' in page
    assert '<a href="http://testserver/api/products/">The catalogue</a>' in page
    assert "with the role catalog_manager" in page
    assert "Your other apps" not in page, "carol may use no other app"


def test_carols_bar_has_the_issuer_and_no_app_she_may_not_use(carol):
    page = carol.get("/api/products/").content.decode()
    assert '<a id="sso-issuer-home" href="http://localhost:8000/">Sign-on home</a>' in page
    assert "sso-app-link" not in page


def test_carol_keeps_the_edit_form_on_an_item(carol):
    from apps.products.models import Product

    Product.objects.create(sku="mug-blue", name="Blue mug", price="9.50", stock=40)
    page = carol.get("/api/products/mug-blue/").content.decode()
    assert 'id="put-object-form"' in page
