"""acr_values at the authorization endpoint (OpenID Connect Core 3.1.2.1): a client that asks for urn:sso:2fa, for
an app that does not require a second factor, sends a password-only session through the step-up page and back, and
the new client session's tokens say mfa; prompt=none answers interaction_required; an unknown value is ignored (a
voluntary request: the ID token's acr says what the sign-on proved)."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from ..oidc.conftest import authorize, authorize_params, code_for, exchange, pkce, query_of
from .conftest import PASSWORD, claims, code_at, enrol

pytestmark = pytest.mark.django_db

TWO_FACTORS = "urn:sso:2fa"


@pytest.fixture
def browser(users, moved_clock) -> Client:
    """Bob signed in with his password only, his authenticator app enrolled after (orders does not require MFA)."""
    client = Client()
    client.post("/login/", {"username": "bob", "password": PASSWORD, "next": "/"})
    enrol(users["bob"])
    return client


def test_acr_values_sends_the_session_to_step_up_and_back_to_a_code_whose_tokens_say_mfa(
    browser, orders_client, moved_clock
):
    verifier, challenge = pkce()
    params = authorize_params(orders_client, challenge, acr_values=TWO_FACTORS, max_age="600")
    response = browser.get("/session/authorize/", params)
    assert response.status_code == 302 and response["Location"].startswith("/login/step-up/?")
    next_url = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    assert next_url.startswith("/session/authorize/?") and "acr_values=urn%3Asso%3A2fa" in next_url

    assert browser.get(response["Location"]).status_code == 200
    moved_clock.advance(30)
    stepped_up = browser.post(response["Location"], {"code": code_at(moved_clock.now)})
    assert stepped_up.status_code == 302 and stepped_up["Location"] == next_url

    answer = browser.get(next_url)
    assert answer.status_code == 302 and answer["Location"].startswith(orders_client.app.redirect_uri_list[0])
    body = exchange(orders_client, query_of(answer["Location"])["code"], verifier).json()
    id_token, access = claims(body["id_token"]), claims(body["access_token"])
    assert id_token["acr"] == TWO_FACTORS and id_token["amr"] == ["pwd", "otp", "mfa"]
    assert id_token["auth_time"] == int(moved_clock.now.timestamp())
    assert access["acr"] == TWO_FACTORS and "mfa" in access["amr"]


def test_acr_values_with_prompt_none_answers_interaction_required(browser, orders_client):
    response = authorize(browser, orders_client, acr_values=TWO_FACTORS, prompt="none")
    assert response.status_code == 302
    query = query_of(response["Location"])
    assert query["error"] == "interaction_required" and query["state"] == "state-123"


@pytest.mark.parametrize("acr_values", ["urn:sso:1fa", "urn:example:gold", "urn:sso:2FA", "", "urn:sso:3fa x"])
def test_an_acr_value_other_than_two_factors_is_ignored(browser, orders_client, acr_values):
    code, verifier = code_for(browser, orders_client, acr_values=acr_values)
    id_token = claims(exchange(orders_client, code, verifier).json()["id_token"])
    assert id_token["acr"] == "urn:sso:1fa" and id_token["amr"] == ["pwd"]


def test_two_factors_among_other_values_are_honoured(browser, orders_client):
    response = authorize(browser, orders_client, acr_values=f"urn:example:gold {TWO_FACTORS}")
    assert response["Location"].startswith("/login/step-up/?")


def test_a_session_that_already_has_two_factors_gets_its_code_at_once(users, orders_client, moved_clock):
    enrol(users["bob"])
    client = Client()
    client.post("/login/", {"username": "bob", "password": PASSWORD, "next": "/"})
    client.post("/login/second-factor/", {"code": code_at(moved_clock.now)})
    code, verifier = code_for(client, orders_client, acr_values=TWO_FACTORS)
    assert claims(exchange(orders_client, code, verifier).json()["id_token"])["acr"] == TWO_FACTORS


def test_the_discovery_document_advertises_both_acr_values(client):
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["acr_values_supported"] == ["urn:sso:1fa", TWO_FACTORS]
