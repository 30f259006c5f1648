"""Enforcement: a password alone never yields a token for an app that requires a second factor, by any path
(the login page, silent renewal, the script endpoint, /api/token/ with and without `otp`, the authorization
endpoint, refresh of a browser and of a client session); service tokens are untouched. Every token copies the
session's amr/acr/auth_time and a refresh never upgrades them."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from issuer.models import GroupMFAPolicy, ServiceClient, SSOSession
from issuer.services import recovery_codes
from issuer.services.service_clients import service_client_secret_set

from ..oidc.conftest import authorize, basic_auth, code_for, exchange
from .conftest import PASSWORD, claims, code_at, enrol

pytestmark = pytest.mark.django_db

ORDERS_PAGE = "http://localhost:8001/api/orders/"


@pytest.fixture
def orders_requires_mfa(apps):
    apps["orders"].mfa_required = True
    apps["orders"].save()
    return apps["orders"]


def sign_in(client, username="bob", next_url="/"):
    return client.post("/login/", {"username": username, "password": PASSWORD, "next": next_url})


def sign_in_with_code(client, moved_clock, username="bob", next_url="/"):
    sign_in(client, username, next_url)
    return client.post("/login/second-factor/", {"code": code_at(moved_clock.now)})


def audiences(response) -> list[str]:
    return claims(response.cookies["sso_access"].value)["aud"]


# ---- the login page and silent renewal ----------------------------------------------------------------


def test_a_password_only_session_s_token_leaves_out_apps_that_require_mfa(client, users, orders_requires_mfa):
    response = sign_in(client)
    assert audiences(response) == ["products"]


def test_the_login_page_leads_to_step_up_instead_of_the_app(client, users, orders_requires_mfa):
    response = sign_in(client, next_url=ORDERS_PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/step-up/?")
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == [ORDERS_PAGE]


def test_two_factors_give_a_token_for_the_app(client, users, orders_requires_mfa, moved_clock):
    enrol(users["bob"])
    response = sign_in_with_code(client, moved_clock, next_url=ORDERS_PAGE)
    assert response["Location"] == ORDERS_PAGE
    assert audiences(response) == ["orders", "products"]


def test_silent_renewal_never_adds_the_app_and_asks_for_step_up(client, users, orders_requires_mfa):
    sign_in(client)
    response = client.get("/session/renew/", {"next": ORDERS_PAGE})
    assert response["Location"].startswith("/login/step-up/?")
    assert audiences(response) == ["products"]
    assert claims(response.cookies["sso_access"].value)["amr"] == ["pwd"]


def test_the_script_endpoint_s_token_leaves_the_app_out(client, users, orders_requires_mfa):
    sign_in(client)
    response = client.post("/session/token/", HTTP_ORIGIN="http://localhost:8001")
    assert response.status_code == 200
    assert claims(response.json()["access"])["aud"] == ["products"]


def test_a_refresh_never_upgrades(client, users, moved_clock):
    sign_in(client)
    moved_clock.advance(60)
    response = client.get("/session/renew/", {"next": "/"})
    token = claims(response.cookies["sso_access"].value)
    session = SSOSession.objects.get(user=users["bob"])
    assert token["amr"] == ["pwd"] and token["acr"] == "urn:sso:1fa"
    assert token["auth_time"] == int(session.auth_time.timestamp()) < int(moved_clock.now.timestamp())


def test_an_app_that_starts_requiring_mfa_drops_out_at_the_next_refresh(client, users, apps):
    sign_in(client)
    apps["orders"].mfa_required = True
    apps["orders"].save()
    response = client.get("/session/renew/", {"next": "/"})
    assert audiences(response) == ["products"]


def test_a_group_policy_leaves_every_app_out_and_says_where_to_enrol(client, users):
    GroupMFAPolicy.objects.create(group=Group.objects.get(name="catalog_manager"))
    response = sign_in(client, "carol")
    assert response.status_code == 403 and b"/account/" in response.content
    assert audiences(response) == []


def test_a_group_policy_made_later_reaches_the_next_refresh(client, users):
    sign_in(client, "carol")
    GroupMFAPolicy.objects.create(group=Group.objects.get(name="catalog_manager"))
    assert audiences(client.get("/session/renew/", {"next": "/"})) == []


def test_staff_under_the_setting_get_neither_apps_nor_the_admin_without_mfa(client, users, settings):
    settings.SSO_MFA_REQUIRED_FOR_STAFF = True
    response = sign_in(client, "alice", "/admin/")
    assert response.status_code == 403
    assert audiences(response) == [] and "_auth_user_id" not in client.session


def test_staff_under_the_setting_get_the_admin_with_mfa(client, users, settings, moved_clock):
    settings.SSO_MFA_REQUIRED_FOR_STAFF = True
    enrol(users["alice"])
    response = sign_in_with_code(client, moved_clock, "alice", "/admin/")
    assert response["Location"] == "/admin/" and client.session["_auth_user_id"] == str(users["alice"].pk)


# ---- /api/token/ --------------------------------------------------------------------------------------


def test_the_api_asks_an_account_with_a_second_factor_for_otp(api, users):
    enrol(users["bob"])
    response = api.post("/api/token/", {"username": "bob", "password": PASSWORD}, format="json")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "mfa_required" and body["field"] == "otp" and body["browser"] == "/login/"
    assert "WWW-Authenticate" in response
    assert not SSOSession.objects.filter(user=users["bob"]).exists()


def test_the_api_takes_a_code_and_marks_two_factors(api, users, orders_requires_mfa, moved_clock):
    enrol(users["bob"])
    body = {"username": "bob", "password": PASSWORD, "otp": code_at(moved_clock.now), "audience": "orders"}
    response = api.post("/api/token/", body, format="json")
    assert response.status_code == 200, response.content
    token = claims(response.json()["access"])
    assert token["aud"] == ["orders"] and token["amr"] == ["pwd", "otp", "mfa"] and token["acr"] == "urn:sso:2fa"
    assert len(response.json()["access"]) <= 1024
    replay = api.post("/api/token/", body, format="json")
    assert replay.status_code == 401 and replay.json()["code"] == "mfa_invalid"


def test_the_api_takes_a_recovery_code_once(api, users):
    enrol(users["bob"])
    code = recovery_codes.recovery_codes_generate(user=users["bob"])[0]
    body = {"username": "bob", "password": PASSWORD, "otp": code}
    assert claims(api.post("/api/token/", body, format="json").json()["access"])["amr"] == ["pwd", "mfa"]
    assert api.post("/api/token/", body, format="json").status_code == 401


def test_the_api_refuses_a_token_narrowed_to_the_app_for_a_password_only_account(api, users, orders_requires_mfa):
    response = api.post("/api/token/", {"username": "bob", "password": PASSWORD, "audience": "orders"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "mfa_required"
    default = api.post("/api/token/", {"username": "bob", "password": PASSWORD}, format="json")
    assert claims(default.json()["access"])["aud"] == ["products"]


def test_the_api_s_wrong_password_is_checked_before_any_code(api, users):
    enrol(users["bob"])
    response = api.post("/api/token/", {"username": "bob", "password": "wrong", "otp": "123456"}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"


def test_a_refresh_through_the_api_keeps_what_the_sign_in_proved(api, users, orders_requires_mfa):
    first = api.post("/api/token/", {"username": "bob", "password": PASSWORD}, format="json").json()
    refreshed = api.post("/api/token/refresh/", {"refresh": first["refresh"]}, format="json")
    token = claims(refreshed.json()["access"])
    assert token["amr"] == ["pwd"] and token["aud"] == ["products"]


def test_an_api_session_narrowed_to_an_app_that_starts_requiring_mfa_is_refused_at_refresh(api, users, apps):
    first = api.post("/api/token/", {"username": "bob", "password": PASSWORD, "audience": "orders"}, format="json")
    apps["orders"].mfa_required = True
    apps["orders"].save()
    refreshed = api.post("/api/token/refresh/", {"refresh": first.json()["refresh"]}, format="json")
    assert refreshed.status_code == 403 and refreshed.json()["code"] == "mfa_required"


# ---- OpenID Connect -----------------------------------------------------------------------------------


def test_the_authorization_endpoint_sends_a_password_only_session_to_step_up(users, orders_client, orders_requires_mfa):
    browser = Client()
    sign_in(browser)
    response = authorize(browser, orders_client)
    assert response.status_code == 302 and response["Location"].startswith("/login/step-up/?")
    next_url = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    assert next_url.startswith("/session/authorize/?") and "client_id=orders" in next_url


def test_the_authorization_endpoint_with_prompt_none_answers_interaction_required(
    users, orders_client, orders_requires_mfa
):
    browser = Client()
    sign_in(browser)
    response = authorize(browser, orders_client, prompt="none")
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["interaction_required"]


def test_a_two_factor_session_gets_a_code_and_tokens_that_say_so(
    users, orders_client, orders_requires_mfa, moved_clock
):
    enrol(users["bob"])
    browser = Client()
    sign_in_with_code(browser, moved_clock)
    code, verifier = code_for(browser, orders_client)
    body = exchange(orders_client, code, verifier).json()
    assert claims(body["id_token"])["amr"] == ["pwd", "otp", "mfa"]
    assert claims(body["id_token"])["acr"] == "urn:sso:2fa"
    access = claims(body["access_token"])
    assert access["amr"] == ["pwd", "otp", "mfa"] and access["acr"] == "urn:sso:2fa"


def test_a_code_issued_before_the_app_required_mfa_is_refused(users, orders_client):
    browser = Client()
    sign_in(browser)
    code, verifier = code_for(browser, orders_client)
    orders_client.app.mfa_required = True
    orders_client.app.save()
    response = exchange(orders_client, code, verifier)
    assert response.status_code == 400 and "second factor" in response.json()["error_description"]


def test_a_client_session_s_refresh_is_refused_once_its_app_requires_mfa(users, orders_client):
    browser = Client()
    sign_in(browser)
    code, verifier = code_for(browser, orders_client)
    tokens = exchange(orders_client, code, verifier).json()
    orders_client.app.mfa_required = True
    orders_client.app.save()
    response = Client().post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        **basic_auth("orders", orders_client.secret),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert "second factor" in response.json()["error_description"]


# ---- service tokens -----------------------------------------------------------------------------------


def test_service_tokens_are_untouched(api, apps, orders_requires_mfa):
    service = ServiceClient.objects.create(name="Products", client_id="products", scopes="orders:read")
    service.audiences.add(orders_requires_mfa)
    service_client_secret_set(client=service, raw_secret="s" * 40)
    body = {"client_id": "products", "client_secret": "s" * 40, "audience": "orders", "scope": "orders:read"}
    response = api.post("/api/service-token/", body, format="json")
    assert response.status_code == 200, response.content


def test_a_client_session_keeps_what_its_sign_on_proved_after_a_step_up(users, orders_client, moved_clock):
    browser = Client()
    sign_in(browser)
    code, verifier = code_for(browser, orders_client)
    tokens = exchange(orders_client, code, verifier).json()
    enrol(users["bob"])
    browser.get("/login/step-up/?next=/")
    browser.post("/login/step-up/?next=/", {"code": code_at(moved_clock.now)})
    assert SSOSession.objects.get(user=users["bob"], client__isnull=True).amr == ["pwd", "otp", "mfa"]
    refreshed = (
        Client()
        .post(
            "/oauth/token/",
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            **basic_auth("orders", orders_client.secret),
        )
        .json()
    )
    assert claims(refreshed["access_token"])["amr"] == ["pwd"]  # a refresh never upgrades
    assert claims(refreshed["id_token"])["acr"] == "urn:sso:1fa"
