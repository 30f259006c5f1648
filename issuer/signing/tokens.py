"""simplejwt, extended at its seam: RS256 access tokens signed with the active key and a `kid` header,
and refresh tokens that only the issuer itself can read; likewise service tokens (RS256) and
password-reset tokens (issuer-only)."""

import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from django.utils.crypto import salted_hmac
from django.utils.functional import SimpleLazyObject
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from sso_client.claims import ACCESS_REQUIRED_CLAIMS
from sso_client.jws import MalformedToken, compact_jws_check, header_read, shape_checked_jwt_requiring

from . import keys

# The issuer-only kinds; what leaves the issuer (access and service tokens) is defined in sso_client.claims.
REFRESH_REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti", "token_type", "sid")
PASSWORD_RESET_REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti", "token_type", "fp")


class KeyedRS256Backend(TokenBackend):
    """Signs with the issuer's active RSA key and names it in the `kid` header; verifies against the
    published keys (the issuer's own view of its JWKS), with exact `iss` and `aud`."""

    def __init__(self, *, audience: str | None) -> None:
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
            raw = token if isinstance(token, str) else token.decode("ascii")
            if verify:
                return token_claims_decode(raw, backend=self, audience=self.audience, required=ACCESS_REQUIRED_CLAIMS)
            # Reading a token this issuer already verified or just made (its pages' own cookie): a known kid and
            # the required claims, no signature or time checks.
            return jwt.decode(
                raw,
                self.get_verifying_key(raw),
                algorithms=[keys.ALGORITHM],
                options={"require": ACCESS_REQUIRED_CLAIMS, "verify_signature": False},
            )
        except jwt.ExpiredSignatureError as e:
            raise TokenBackendExpiredToken("Token is expired") from e
        except (jwt.InvalidTokenError, MalformedToken, UnicodeDecodeError) as e:
            raise TokenBackendError("Token is invalid") from e


def token_claims_decode(
    raw: str, *, backend: TokenBackend, audience: str | list[str] | None, required: Sequence[str]
) -> dict[str, Any]:
    """The one verification of a token the issuer made, for everything at the issuer that verifies (its
    backends, the token inspector): shape (sso_client.jws, the same rules as relying apps), the backend's key
    and single algorithm, exact `iss`, one of `audience` (None: not checked, for a reader that checks the
    session instead, IssuerCookieToken), the `required` claims, current time claims with the backend's leeway.

    Raises what the libraries raise, untranslated (MalformedToken, TokenBackendError for a key it cannot find,
    PyJWT's errors), so each caller translates once, into its own words."""
    compact_jws_check(raw)
    return jwt.decode(
        raw,
        backend.get_verifying_key(raw),
        algorithms=[backend.algorithm],
        audience=audience,
        issuer=backend.issuer,
        leeway=backend.get_leeway(),
        options={"require": list(required), "verify_aud": audience is not None, "strict_aud": False},
    )


def _refresh_backend() -> TokenBackend:
    # Refresh tokens are read only by the issuer, so they are HMAC-signed with a key derived from
    # SECRET_KEY: a relying app (RS256 only) can never mistake one for an access token, and a refresh
    # costs one RSA signature instead of two.
    secret = salted_hmac("sso.refresh-token", "signing-key", secret=settings.SECRET_KEY, algorithm="sha256").hexdigest()
    return TokenBackend(
        algorithm="HS256", signing_key=secret, issuer=settings.SSO_ISSUER_URL, audience=settings.SSO_ISSUER_URL
    )


access_backend = SimpleLazyObject(lambda: KeyedRS256Backend(audience=settings.SSO_ISSUER["AUDIENCE"]))
cookie_backend = SimpleLazyObject(lambda: KeyedRS256Backend(audience=None))
refresh_backend = SimpleLazyObject(_refresh_backend)


def new_token_claims(*, token_type: str, lifetime: timedelta) -> dict[str, Any]:
    """The claims simplejwt's Token gives a new token (its type, `exp` and `iat` from the current time, a random
    `jti`), as a plain dict: the refresh path builds and signs its tokens without Token objects."""
    now = int(time.time())
    return {"token_type": token_type, "exp": now + int(lifetime.total_seconds()), "iat": now, "jti": uuid.uuid4().hex}


def refresh_token_issue(*, sub: str, sid: str, jti: str | None = None) -> tuple[str, str]:
    """A new refresh token for session `sid` of user `sub`, and its `jti` (random unless given): SSORefreshToken's
    claims and signature (HS256 with the refresh key, `aud` and `iss` the issuer), without the Token object."""
    claims = new_token_claims(token_type="refresh", lifetime=settings.REFRESH_TOKEN_LIFETIME)
    backend = refresh_backend
    claims.update(sub=sub, sid=sid, aud=backend.audience, iss=backend.issuer)
    if jti is not None:
        claims["jti"] = jti
    return jwt.encode(claims, backend.signing_key, algorithm=backend.algorithm), claims["jti"]


def refresh_token_read(raw: str) -> dict[str, Any]:
    """The claims of a refresh token this issuer made, read through the PyJWT seam relying apps verify with:
    the shapes of sso_client.jws, HS256 with the refresh key only, exact `iss` and `aud`, every claim a
    refresh token has, a current `exp`, `token_type` refresh. Raises MalformedToken or PyJWT's errors."""
    backend = refresh_backend  # HS256: the signing key verifies
    header_read(raw.partition(".")[0])  # duplicate-free, like every header a verifier here reads
    claims = shape_checked_jwt_requiring(REFRESH_REQUIRED_CLAIMS).decode(
        raw, backend.signing_key, algorithms=[backend.algorithm], audience=backend.audience, issuer=backend.issuer
    )
    if claims["token_type"] != "refresh":
        raise jwt.InvalidTokenError("not a refresh token")
    return claims


class SSOAccessToken(AccessToken):
    """An RS256 access token; its claims are set by issuer.services.sessions."""

    def get_token_backend(self) -> TokenBackend:
        return access_backend


class IssuerCookieToken(SSOAccessToken):
    """The access cookie as the issuer's own pages read it (who is signed in here): signature, issuer, expiry
    and type are checked, but not the audience, since the cookie is made for the relying apps and names them,
    not the issuer. Enough for pages that then look up the live session it names; never for the account API,
    which takes only tokens for the issuer's audience (issuer.authentication)."""

    def get_token_backend(self) -> TokenBackend:
        return cookie_backend


class SSORefreshToken(RefreshToken):
    """A refresh token bound to one SSO session (`sid`); rotated on every use."""

    access_token_class = SSOAccessToken

    def get_token_backend(self) -> TokenBackend:
        return refresh_backend


class SSOServiceToken(Token):
    """An RS256 token a service client holds to call one relying app as itself: `sub` service:<client id>,
    one `aud`, a `scope`, no `sid` and no user. Its own token type, so a relying app's user-token policy
    (`token_type` access, `sid` required) refuses it, and its service-token policy refuses user tokens."""

    token_type = "service"

    @property
    def lifetime(self) -> timedelta:
        return settings.SSO_SERVICE_TOKEN_LIFETIME

    def get_token_backend(self) -> TokenBackend:
        return access_backend


PASSWORD_RESET_AUDIENCE = "sso:password-reset"  # not a slug, so no relying app can ever be given this audience


def _password_reset_backend() -> TokenBackend:
    # Read only by the issuer, like refresh tokens: HMAC-signed with a key derived from SECRET_KEY for this one
    # purpose. A relying app (RS256 only) cannot take it for an access token, and its 15 minutes never keep a
    # retired RSA key published.
    secret = salted_hmac("sso.password-reset", "signing-key", secret=settings.SECRET_KEY, algorithm="sha256")
    return TokenBackend(
        algorithm="HS256",
        signing_key=secret.hexdigest(),
        issuer=settings.SSO_ISSUER_URL,
        audience=PASSWORD_RESET_AUDIENCE,
    )


password_reset_backend = SimpleLazyObject(_password_reset_backend)


class PasswordResetToken(Token):
    """The JWT in a password-reset link: one purpose (`token_type` password_reset), one user (`sub`), 15
    minutes, and a fingerprint (`fp`) of the user's current credentials so that it works once."""

    token_type = "password_reset"

    @property
    def lifetime(self) -> timedelta:
        return settings.PASSWORD_RESET_TOKEN_LIFETIME

    def get_token_backend(self) -> TokenBackend:
        return password_reset_backend
