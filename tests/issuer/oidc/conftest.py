"""OpenID Connect fixtures: the relying apps registered as clients (confidential, public, not first-party), PKCE
pairs, a browser signed in at the issuer, and the authorize and token steps as a client makes them."""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from issuer.models import RelyingApp
from issuer.services.oauth_clients import client_secret_generate
from tests.issuer.conftest import PASSWORD

ORDERS_CALLBACK = "http://localhost:8001/sso/callback/"
SPA_CALLBACK = "http://spa.example.net/callback"
THIRD_CALLBACK = "https://blog.other.test/oidc/callback"


@dataclass
class Registered:
    app: RelyingApp
    secret: str | None


@pytest.fixture
def orders_client(apps) -> Registered:
    app = apps["orders"]
    app.client_id = "orders"
    app.redirect_uris = ORDERS_CALLBACK
    app.post_logout_redirect_uris = "http://localhost:8001/"
    app.is_first_party = True
    app.save()
    return Registered(app, client_secret_generate(client=app))


@pytest.fixture
def spa_client(apps) -> Registered:
    """A public client (PKCE only) for the products audience."""
    app = apps["products"]
    app.client_id = "products-spa"
    app.client_type = RelyingApp.ClientType.PUBLIC
    app.redirect_uris = SPA_CALLBACK
    app.is_first_party = True
    app.save()
    return Registered(app, None)


@pytest.fixture
def third_party_client(db, users) -> Registered:
    """A client that is not first-party (consent is asked), on another domain; bob may use its app."""
    app = RelyingApp.objects.create(
        name="Blog", audience="blog", origin="https://blog.other.test", client_id="blog", redirect_uris=THIRD_CALLBACK
    )
    users["bob"].relying_apps.add(app)
    return Registered(app, client_secret_generate(client=app))


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@pytest.fixture
def browser(users) -> Client:
    """A browser signed in at the issuer as bob (the login page's cookies)."""
    client = Client()
    response = client.post("/login/", {"username": "bob", "password": PASSWORD, "next": "/"})
    assert response.status_code == 302, response.content
    return client


def authorize_params(registered: Registered, challenge: str, **extra) -> dict:
    params = {
        "response_type": "code",
        "client_id": registered.app.client_id,
        "redirect_uri": registered.app.redirect_uri_list[0],
        "scope": "openid profile email",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return {key: value for key, value in params.items() if value is not None}


def authorize(browser: Client, registered: Registered, **extra):
    """The authorization request with a fresh PKCE challenge; `extra` overrides (None leaves a parameter out)."""
    _, challenge = pkce()
    return browser.get("/session/authorize/", authorize_params(registered, challenge, **extra))


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def code_for(browser: Client, registered: Registered, **extra) -> tuple[str, str]:
    """An authorization code for `registered` and its PKCE verifier."""
    verifier, challenge = pkce()
    response = browser.get("/session/authorize/", authorize_params(registered, challenge, **extra))
    assert response.status_code == 302, response.content
    query = query_of(response["Location"])
    assert "code" in query, query
    return query["code"], verifier


def exchange(registered: Registered, code: str, verifier: str, *, secret: str | None = "own", **extra):
    """The code exchange as the client makes it (client_secret_basic for a confidential client)."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": registered.app.redirect_uri_list[0],
        "code_verifier": verifier,
    }
    headers = {}
    secret = registered.secret if secret == "own" else secret
    if secret is None:
        data["client_id"] = registered.app.client_id
    else:
        basic = base64.b64encode(f"{registered.app.client_id}:{secret}".encode()).decode()
        headers["HTTP_AUTHORIZATION"] = f"Basic {basic}"
    data.update(extra)
    return Client().post("/oauth/token/", {k: v for k, v in data.items() if v is not None}, **headers)


def basic_auth(client_id: str, secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}
