"""Browser steps the passkey and account tests share: the page's CSRF token, JSON POSTs, enrolling a passkey
through the endpoints, and a half-finished sign-in (the password checked, the second step owed)."""

import json

from django.test import Client

from issuer.models import WebAuthnCredential

from .authenticator import SoftAuthenticator


def csrf_token(client: Client, path: str) -> str:
    page = client.get(path).content.decode()
    return page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]


def post_json(client: Client, path: str, body: dict, *, token: str):
    return client.post(path, json.dumps(body), content_type="application/json", HTTP_X_CSRFTOKEN=token)


def register_passkey(client: Client, authenticator: SoftAuthenticator, *, name: str = "Laptop") -> WebAuthnCredential:
    token = csrf_token(client, "/account/")
    options = post_json(client, "/passkeys/register/options/", {}, token=token)
    assert options.status_code == 200, options.content
    body = {"credential": authenticator.create(options.json()), "name": name}
    answer = post_json(client, "/passkeys/register/verify/", body, token=token)
    assert answer.status_code == 201, answer.content
    return WebAuthnCredential.objects.get(pk=answer.json()["id"])


def pending_sign_in(client: Client, username: str, password: str, *, next_url: str = "/") -> str:
    """The password at /login/ of someone with a second factor: the second step is owed (mfa-core's
    sso_pending cookie). Returns the page's CSRF token."""
    token = csrf_token(client, "/login/")
    response = client.post(
        "/login/", {"username": username, "password": password, "next": next_url, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and response["Location"] == "/login/second-factor/", response
    return csrf_token(client, "/login/second-factor/")
