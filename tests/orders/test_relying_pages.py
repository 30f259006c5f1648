"""orders' pages in the browser, in-process: the app's home, the browsable API's bar (the way back to the
issuer and on to the other apps), the renewal script's configuration, descriptions, the create form after a
POST, and the favicon."""

import json
import re

import pytest
from django.test import Client

from sso_client import clock
from tests.keys import mint_token

pytestmark = pytest.mark.django_db

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def browser():
    client = Client(HTTP_ACCEPT=HTML)
    client.cookies["sso_access"] = mint_token()
    return client


def session_config(page: str) -> dict:
    return json.loads(re.search(r'<script id="sso-session" type="application/json">(.*?)</script>', page).group(1))


def post_form_fields(page: str) -> list[str]:
    form = page.split('id="post-object-form"', 1)[1].split("</form>", 1)[0]
    return re.findall(r'name="([a-z_]+)"', form)


def test_the_home_page_says_what_the_app_is_who_you_are_and_where_to_go(browser):
    page = browser.get("/").content.decode()
    assert '<h1 id="root-title">Orders</h1>' in page
    assert "Signed in as <strong>bob</strong>" in page
    assert '<a href="http://testserver/api/orders/">Your orders</a>' in page
    assert '<a href="http://testserver/script/">The script page</a>' in page
    assert '<a href="http://localhost:8002/">Products</a>' in page
    assert 'href="http://localhost:8000/">sign-on home</a>' in page
    assert "default basic root view" not in page


def test_the_home_page_as_json(browser):
    body = browser.get("/", HTTP_ACCEPT="application/json").json()
    assert body["app"] == "orders"
    assert body["you"] == {"username": "bob", "sub": "2", "roles": [], "staff": False}
    assert [r["url"] for r in body["resources"]] == [
        "http://testserver/api/orders/",
        "http://testserver/script/",
        "http://testserver/api/whoami/",
    ]
    assert body["apps"] == [{"name": "Products", "url": "http://localhost:8002/"}]
    assert body["issuer"] == "http://localhost:8000/"


def test_the_home_page_without_a_cookie_signs_in_first():
    response = Client(HTTP_ACCEPT=HTML).get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("http://localhost:8000/session/renew/?next=")


def test_the_bar_leads_back_to_the_issuer_and_on_to_the_apps_the_token_names(browser):
    page = browser.get("/api/orders/").content.decode()
    assert '<a id="sso-issuer-home" href="http://localhost:8000/">Sign-on home</a>' in page
    assert '<a class="sso-app-link" href="http://localhost:8002/">Products</a>' in page
    assert '<a class="sso-brand" id="sso-brand" href="/">Orders</a>' in page
    browser.cookies["sso_access"] = mint_token(aud=["sso", "orders"])
    assert "sso-app-link" not in browser.get("/api/orders/").content.decode(), "only apps the person may use"


def test_the_page_tells_its_renewal_script_when_the_cookie_expires(browser, monkeypatch):
    started = clock.now()
    monkeypatch.setattr(clock, "now", lambda: started + 200)
    page = browser.get("/api/orders/").content.decode()
    config = session_config(page)
    assert config["tokenUrl"] == "http://localhost:8000/session/token/"
    assert 99 <= config["expiresIn"] <= 100
    assert (config["lifetime"], config["renewWhenLeft"]) == (300, 0.2)
    assert '<script src="/static/sso_client/renew.js"></script>' in page


def test_a_bearer_page_has_no_renewal_script():
    client = Client(HTTP_ACCEPT=HTML, HTTP_AUTHORIZATION=f"Bearer {mint_token()}")
    assert 'id="sso-session"' not in client.get("/api/orders/").content.decode()


def test_the_browsable_api_wears_the_issuers_look_and_icon(browser):
    page = browser.get("/api/orders/").content.decode()
    assert '<link rel="stylesheet" href="/static/sso_client/relying.css">' in page
    assert '<link rel="icon" href="/static/sso_client/favicon.svg" type="image/svg+xml">' in page
    assert browser.get("/static/sso_client/relying.css").status_code == 200
    assert browser.get("/static/sso_client/favicon.svg").status_code == 200
    favicon = Client().get("/favicon.ico")
    assert (favicon.status_code, favicon["Location"]) == (301, "/static/sso_client/favicon.svg")


def test_descriptions_set_code_as_code_not_backticks(browser):
    page = browser.get("/api/orders/").content.decode()
    assert "POST <code>sku</code> and <code>quantity</code> (or <code>lines</code>)" in page
    assert "`sku`" not in page


def test_after_a_post_the_form_is_still_the_order_form(browser):
    page = browser.get("/api/orders/").content.decode()
    assert post_form_fields(page)[1:] == ["sku", "quantity", "lines"]
    response = browser.post("/api/orders/", {"sku": "mug-blue", "quantity": "2"})
    assert response.status_code == 201
    after = response.content.decode()
    assert post_form_fields(after)[1:] == ["sku", "quantity", "lines"], "not Owner username / Status"
    assert "owner_username" not in after.split('id="post-object-form"', 1)[1]


def test_a_refused_post_keeps_its_filled_form(browser):
    response = browser.post("/api/orders/", {"sku": "not a slug", "quantity": "2"})
    assert response.status_code == 400
    form = response.content.decode().split('id="post-object-form"', 1)[1].split("</form>", 1)[0]
    assert 'value="not a slug"' in form
