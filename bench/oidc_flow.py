"""Section (j) of `make bench`: the OpenID Connect authorization code flow end to end, as the orders site's
any-domain mode makes it, over HTTP against the benchmark's running issuer, beside a sign-in at the same
issuer's login page.

One flow is what a browser already signed in at the issuer costs a relying site that signs it in: the
authorization request at /session/authorize/ (PKCE S256, a nonce; answered by a redirect carrying the code),
the code exchange at /oauth/token/ (client_secret_basic, the demo client `orders`), and the ID token verified
by sso_client.oidc.id_token_verify (signature, iss, aud, nonce, at_hash), in this process. The reference is one
sign-in at /login/ (the form's POST: an Argon2id hash and a new session): what the flow saves a person who has
signed in once. Both are wall time per call, the median of interleaved single calls.

Runs with the orders site's settings; reads {"username", "password", "rounds"} on stdin; prints one JSON object."""

import base64
import hashlib
import json
import re
import secrets
import sys
from urllib.parse import parse_qs, urlsplit

import django
import requests

TIMEOUT = 10


def _csrf_token(page: requests.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def main() -> None:
    params = json.load(sys.stdin)
    django.setup()

    from django.conf import settings

    from bench.timing import median_per_call
    from sso_client.conf import issuer_fetch_base, sso_settings
    from sso_client.oidc import id_token_verify

    issuer = issuer_fetch_base()
    conf = sso_settings()
    client_auth = (conf["CLIENT_ID"], conf["CLIENT_SECRET"])
    redirect_uri = f"{settings.ORDERS_URL}/sso/callback/"
    browser = requests.Session()

    def login() -> None:
        form = browser.get(f"{issuer}/login/", timeout=TIMEOUT)
        signed_in = browser.post(
            f"{issuer}/login/",
            data={
                "username": params["username"],
                "password": params["password"],
                "next": "/",
                "csrfmiddlewaretoken": _csrf_token(form),
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert signed_in.status_code == 302, signed_in.status_code

    def code_flow() -> None:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        nonce = secrets.token_urlsafe(16)
        authorized = browser.get(
            f"{issuer}/session/authorize/",
            params={
                "response_type": "code",
                "client_id": client_auth[0],
                "redirect_uri": redirect_uri,
                "scope": "openid profile email",
                "state": secrets.token_urlsafe(16),
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert authorized.status_code == 302, authorized.status_code
        (code,) = parse_qs(urlsplit(authorized.headers["Location"]).query)["code"]
        exchanged = requests.post(
            f"{issuer}/oauth/token/",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=client_auth,
            timeout=TIMEOUT,
        )
        assert exchanged.status_code == 200, exchanged.status_code
        tokens = exchanged.json()
        id_token_verify(tokens["id_token"], nonce=nonce, access_token=tokens["access_token"])

    login()
    for _ in range(3):  # warm-up: the issuer's first queries, this process's JWKS copy
        code_flow()
    result = median_per_call({"code_flow": code_flow, "login": login}, rounds=params["rounds"])
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
