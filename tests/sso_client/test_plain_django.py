"""Plain Django views at a relying app: the middleware puts the SSO user on request.user for every view,
Django's own login_required works, and sso_client.access lets in by sign-in, role and scope."""

import pytest
from django.test import Client

from sso_client.middleware import REFUSAL_HEADER
from tests.keys import mint_token

pytestmark = [pytest.mark.urls("tests.sso_client.plain_urls")]

MIDDLEWARE = "sso_client.middleware.SSOAuthenticationMiddleware"


@pytest.fixture(autouse=True)
def _middleware(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]
    settings.LOGIN_URL = "/sign-in/"


def bearer(**claims) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {mint_token(**claims)}"}


def test_every_view_sees_the_token_user_by_bearer_or_cookie():
    assert (
        Client().get("/open/", **bearer(roles=["buyer", "catalog_manager"])).content == b"bob (buyer, catalog_manager)"
    )
    client = Client()
    client.cookies["sso_access"] = mint_token()
    assert client.get("/open/").content == b"bob ()"
    assert Client().get("/open/").content == b"anonymous"


def test_the_token_user_and_its_roles_are_there_whichever_is_read_first():
    assert Client().get("/roles/", **bearer(roles=["buyer"])).content == b"buyer"
    assert Client().get("/roles/").content == b"-"


def test_djangos_login_required_lets_the_sso_user_in():
    # Its redirect needs django.contrib.auth installed, as every stock project has it (and these relying apps
    # do not): tests/sso_client/test_package.py signs in at a fresh startproject site.
    assert Client().get("/django-login-required/", **bearer()).status_code == 200


def test_a_page_load_without_a_token_is_sent_to_sign_in_and_a_script_gets_401():
    page = Client().get("/signed-in/", HTTP_ACCEPT="text/html")
    assert page.status_code == 302
    assert page["Location"].startswith("http://localhost:8000/session/renew/?next=")
    script = Client().get("/signed-in/", HTTP_ACCEPT="application/json")
    assert script.status_code == 401
    assert script["WWW-Authenticate"] == 'Bearer realm="orders"'
    assert Client().get("/signed-in/", **bearer()).status_code == 200


@pytest.mark.parametrize("path", ["/managers/", "/managers-view/"])
def test_a_role_is_required(path):
    assert Client().get(path, **bearer(roles=["catalog_manager"])).status_code == 200
    assert Client().get(path, **bearer(roles=["buyer"])).status_code == 403
    assert Client().get(path, HTTP_ACCEPT="application/json").status_code == 401


@pytest.mark.parametrize("path", ["/profile/", "/profile-view/"])
def test_a_scope_is_required(path):
    assert Client().get(path, **bearer(scope="openid profile")).status_code == 200
    assert Client().get(path, **bearer(scope="openid")).status_code == 403
    assert Client().get(path, **bearer()).status_code == 403


@pytest.mark.parametrize("token", [None, "garbage"])
def test_the_stateless_user_answers_djangos_permission_api(token):
    headers = {} if token is None else {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert Client().get("/permissions/", **headers).content == b"False False"
    assert Client().get("/permissions/", **bearer(staff=True)).content == b"False False"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [({"aud": ["products"]}, "wrong audience"), ({"exp": 1}, "expired"), ({"sid": "session-ended"}, "session revoked")],
)
def test_the_refusal_reason_is_shown_in_debug_only(settings, relying_app, claims, reason):
    from django.core.cache import cache

    from sso_client.state import REVOKED_KEY

    entry = cache.get(REVOKED_KEY)
    cache.set(REVOKED_KEY, {**entry, "sids": ["session-ended"]}, timeout=None)
    relying_app.reset()
    relying_app.sync()
    settings.DEBUG = True
    response = Client().get("/open/", **bearer(**claims))
    assert response.content == b"anonymous"
    assert response[REFUSAL_HEADER] == reason
    settings.DEBUG = False
    assert REFUSAL_HEADER not in Client().get("/open/", **bearer(**claims))


@pytest.mark.urls("apps.orders.urls")
@pytest.mark.django_db
def test_drf_says_why_in_debug_only(settings):
    settings.DEBUG = True
    body = Client().get("/api/orders/", HTTP_ACCEPT="application/json", **bearer(aud=["products"])).json()
    assert body == {"detail": "Authentication credentials were not valid. (wrong audience)", "code": "token_not_valid"}
    settings.DEBUG = False
    body = Client().get("/api/orders/", HTTP_ACCEPT="application/json", **bearer(aud=["products"])).json()
    assert body["detail"] == "Authentication credentials were not valid."
