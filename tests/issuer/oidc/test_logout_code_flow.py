"""The sign-out half of the code flow, end to end through the real endpoints: a browser signs in at the issuer,
two clients on unrelated domains get their tokens from /session/authorize/ and /oauth/token/, UserInfo answers
with the access token, and RP-initiated logout with the ID token as hint ends the sign-on everywhere: both
clients' tokens stop at UserInfo and at the token endpoint, and each client's back-channel receiver gets its
logout token."""

import jwt
import pytest
from django.test import Client

from .conftest import basic_auth, code_for, exchange
from .receiver import Receiver, join_delivery_threads, verified_logout_token


@pytest.mark.django_db(transaction=True)
def test_sign_in_at_two_clients_then_out_at_one_signs_out_of_both(browser, orders_client, third_party_client):
    receiver = Receiver().start()
    try:
        clients = {"orders": orders_client, "blog": third_party_client}
        for registered in clients.values():
            registered.app.is_first_party = True
            registered.app.backchannel_logout_uri = receiver.url
            registered.app.save()
        tokens = {}
        for name, registered in clients.items():
            code, verifier = code_for(browser, registered)
            response = exchange(registered, code, verifier)
            assert response.status_code == 200, response.content
            tokens[name] = response.json()
        for body in tokens.values():
            assert (
                browser.get("/oauth/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").status_code == 200
            )

        response = browser.get(
            "/oauth/logout/",
            {
                "id_token_hint": tokens["orders"]["id_token"],
                "post_logout_redirect_uri": "http://localhost:8001/",
                "state": "bye",
            },
        )
        assert response.status_code == 302 and response["Location"] == "http://localhost:8001/?state=bye"
        join_delivery_threads()
    finally:
        receiver.stop()

    for name, body in tokens.items():
        userinfo = browser.get("/oauth/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
        assert userinfo.status_code == 401
        registered = clients[name]
        refreshed = Client().post(
            "/oauth/token/",
            {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
            **basic_auth(registered.app.client_id, registered.secret),
        )
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    sids = {}
    for raw in receiver.tokens():
        audience = jwt.decode(raw, options={"verify_signature": False})["aud"]
        sids[audience] = verified_logout_token(raw, audience=audience)["sid"]
    assert sids == {
        registered.app.client_id: jwt.decode(tokens[name]["id_token"], options={"verify_signature": False})["sid"]
        for name, registered in clients.items()
    }
