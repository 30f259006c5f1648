"""The OpenID Connect tokens the issuer signs besides access tokens: ID tokens and back-channel logout tokens.
RS256 with the active key and its `kid`, like every token that leaves the issuer, so a client verifies them
against the same JWKS; rotation and retirement are unchanged (their lifetime is never longer than an access
token's, see keys.retire_after). Each kind has its own `typ` header, so none can pass for another."""

from typing import Any

import jwt
from django.conf import settings

from sso_client.claims import (
    ACCESS_TOKEN_TYP,
    BACKCHANNEL_LOGOUT_EVENT,
    ID_TOKEN_REQUIRED_CLAIMS,
    ID_TOKEN_TYP,
    LOGOUT_TOKEN_REQUIRED_CLAIMS,
    LOGOUT_TOKEN_TYP,
)

from . import keys

# The kinds' `typ` headers, required claims and the back-channel event are the token contract, defined beside
# the access token's in sso_client.claims (the relying party checks what the issuer mints).
__all__ = [
    "ACCESS_TOKEN_TYP",
    "BACKCHANNEL_LOGOUT_EVENT",
    "ID_TOKEN_REQUIRED_CLAIMS",
    "ID_TOKEN_TYP",
    "LOGOUT_TOKEN_REQUIRED_CLAIMS",
    "LOGOUT_TOKEN_TYP",
    "jwt_sign",
    "published_key_for",
]


def jwt_sign(claims: dict[str, Any], *, typ: str) -> str:
    """`claims` signed with the active key, `iss` set to SSO_ISSUER_URL, `kid` and `typ` in the header."""
    signing_key = keys.active_signing_key()
    payload = {**claims, "iss": settings.SSO_ISSUER_URL}
    return jwt.encode(
        payload, signing_key.private_key, algorithm=keys.ALGORITHM, headers={"kid": signing_key.kid, "typ": typ}
    )


def published_key_for(raw: str) -> Any:
    """The public key a token the issuer signed names in its `kid`, from the published JWKS; jwt.InvalidTokenError
    when the header is unreadable or names no published key."""
    kid = jwt.get_unverified_header(raw).get("kid")
    for jwk in keys.published_jwks()["keys"]:
        if jwk["kid"] == kid:
            return jwt.PyJWK(jwk, algorithm=keys.ALGORITHM).key
    raise jwt.InvalidTokenError("unknown kid")
