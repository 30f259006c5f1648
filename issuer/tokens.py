"""simplejwt, extended at its seam: RS256 access tokens signed with the active key and a `kid` header,
and refresh tokens that only the issuer itself can read."""

from typing import Any

import jwt
from django.conf import settings
from django.utils.crypto import salted_hmac
from django.utils.functional import SimpleLazyObject
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from . import keys

REQUIRED_ACCESS_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti", "token_type", "sid"]


class KeyedRS256Backend(TokenBackend):
    """Signs with the issuer's active RSA key and names it in the `kid` header; verifies against the
    published keys (the issuer's own view of its JWKS), with exact `iss` and `aud`."""

    def __init__(self, *, audience: str) -> None:
        super().__init__(algorithm=keys.ALGORITHM, issuer=settings.SSO_ISSUER_URL, audience=audience, leeway=0)

    def encode(self, payload: dict[str, Any]) -> str:
        signing_key = keys.active_signing_key()
        # `aud` is per token (the apps this user may use), so the backend's fixed audience is not applied.
        claims = {**payload, "iss": self.issuer}
        return jwt.encode(claims, signing_key.private_key, algorithm=keys.ALGORITHM, headers={"kid": signing_key.kid})

    def get_verifying_key(self, token: Any) -> Any:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError as e:
            raise TokenBackendError("Token is invalid") from e
        for jwk in keys.published_jwks()["keys"]:
            if jwk["kid"] == kid:
                return jwt.PyJWK(jwk, algorithm=keys.ALGORITHM).key
        raise TokenBackendError("Token is invalid")

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                self.get_verifying_key(token),
                algorithms=[keys.ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={"require": REQUIRED_ACCESS_CLAIMS, "verify_signature": verify},
            )
        except jwt.ExpiredSignatureError as e:
            raise TokenBackendExpiredToken("Token is expired") from e
        except jwt.InvalidTokenError as e:
            raise TokenBackendError("Token is invalid") from e


def _refresh_backend() -> TokenBackend:
    # Refresh tokens are read only by the issuer, so they are HMAC-signed with a key derived from
    # SECRET_KEY: a relying app (RS256 only) can never mistake one for an access token, and a refresh
    # costs one RSA signature instead of two.
    secret = salted_hmac("sso.refresh-token", "signing-key", secret=settings.SECRET_KEY, algorithm="sha256").hexdigest()
    return TokenBackend(
        algorithm="HS256", signing_key=secret, issuer=settings.SSO_ISSUER_URL, audience=settings.SSO_ISSUER_URL
    )


access_backend = SimpleLazyObject(lambda: KeyedRS256Backend(audience=settings.SSO_ISSUER["AUDIENCE"]))
refresh_backend = SimpleLazyObject(_refresh_backend)


class SSOAccessToken(AccessToken):
    """An RS256 access token; its claims are set by issuer.services."""

    def get_token_backend(self) -> TokenBackend:
        return access_backend


class SSORefreshToken(RefreshToken):
    """A refresh token bound to one SSO session (`sid`); rotated on every use."""

    access_token_class = SSOAccessToken

    def get_token_backend(self) -> TokenBackend:
        return refresh_backend
