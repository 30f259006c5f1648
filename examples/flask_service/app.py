"""A Flask API that trusts the SSO issuer's access tokens, verified offline with PyJWT: the keys come from
the JWKS that the issuer's discovery document names (PyJWKClient caches them), and every token must be RS256,
from exactly this issuer, for this audience, unexpired, and an access token (not a refresh or ID token).

    SSO_ISSUER_URL=https://sso.example.com SSO_AUDIENCE=reports flask --app app run

It does not read the issuer's revocation list: a signed-out session's tokens pass until they expire (minutes).
A site that must refuse them at once uses sso_client, or fetches `revocation_list_uri` the same way. And
PyJWKClient refetches the JWKS for every unknown kid: behind a public endpoint, rate-limit that (sso_client
does: one refetch per 10 s)."""

import os
from functools import wraps

import jwt
import requests
from flask import Flask, g, jsonify, request

REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "token_type"]


def discover_jwks_uri(issuer: str, fetch_url: str) -> str:
    """The JWKS URL from the discovery document, refused unless the document names this issuer exactly."""
    response = requests.get(f"{fetch_url}/.well-known/openid-configuration", timeout=5, allow_redirects=False)
    response.raise_for_status()
    document = response.json()
    jwks_uri = document.get("jwks_uri", "")
    if document.get("issuer") != issuer or not jwks_uri.startswith(issuer + "/"):
        raise RuntimeError("the discovery document names another issuer or a JWKS elsewhere")
    # Reached where this process reaches the issuer (a private URL may differ from the public one).
    return fetch_url + jwks_uri[len(issuer) :]


def create_app(issuer: str | None = None, audience: str | None = None, fetch_url: str | None = None) -> Flask:
    """The API; unset arguments come from SSO_ISSUER_URL, SSO_AUDIENCE and SSO_ISSUER_INTERNAL_URL."""
    issuer = issuer or os.environ["SSO_ISSUER_URL"]
    audience = audience or os.environ["SSO_AUDIENCE"]
    fetch_url = fetch_url or os.environ.get("SSO_ISSUER_INTERNAL_URL") or issuer
    app = Flask(__name__)
    jwks = jwt.PyJWKClient(discover_jwks_uri(issuer, fetch_url), lifespan=300, timeout=5)

    def verified_claims(token: str) -> dict:
        key = jwks.get_signing_key_from_jwt(token)  # by the header's kid; an unknown kid refetches the JWKS
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],  # never what the token's header asks for
            issuer=issuer,
            audience=audience,
            leeway=30,
            options={"require": REQUIRED_CLAIMS},
        )
        if claims["token_type"] != "access":
            raise jwt.InvalidTokenError("not an access token")
        # PyJWT reads a numeric string as a time ("exp": "9999999999"); RFC 7519 says a number.
        if not all(type(claims[name]) in (int, float) for name in ("exp", "iat")):
            raise jwt.InvalidTokenError("time claims must be numbers")
        return claims

    def refused():
        response = jsonify(detail="Authentication credentials were not valid.", code="token_not_valid")
        response.headers["WWW-Authenticate"] = f'Bearer realm="{audience}"'
        return response, 401

    def token_required(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token:
                return refused()
            try:
                g.claims = verified_claims(token.strip())
            except (jwt.PyJWTError, RecursionError, ValueError):  # RecursionError: hostile nesting
                return refused()
            return view(*args, **kwargs)

        return guarded

    @app.get("/api/hello/")
    @token_required
    def hello():
        return jsonify(sub=g.claims["sub"], username=g.claims.get("username"), roles=g.claims.get("roles", []))

    return app


if __name__ == "__main__":
    create_app().run()
