"""The UserInfo endpoint (OpenID Connect Core 1.0 section 5.3) on Authlib's UserInfoEndpoint, behind a
resource protector that takes only the issuer's own OpenID Connect access tokens: verified the way the issuer
verifies every token it made (token_claims_decode), for a live client session, granted `openid`."""

from dataclasses import dataclass
from typing import Any

import jwt
from authlib.oauth2.rfc6749 import (
    MissingAuthorizationError,
    OAuth2Error,
    OAuth2Request,
    ResourceProtector,
    TokenMixin,
    UnsupportedTokenTypeError,
)
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from django.contrib.auth.models import AbstractBaseUser
from rest_framework_simplejwt.exceptions import TokenBackendError

from sso_client.claims import ACCESS_REQUIRED_CLAIMS
from sso_client.jws import MalformedToken, compact_jws_check, header_read

from ..models import RelyingApp, SSOSession
from ..selectors import live_session_get
from ..signing.oidc import ACCESS_TOKEN_TYP
from ..signing.tokens import cookie_backend, token_claims_decode
from .oidc_provider import server, user_info_claims

REALM = "sso"


@dataclass
class ClientAccessToken(TokenMixin):
    """A verified access token of a live client session, as Authlib's UserInfoEndpoint reads it."""

    claims: dict[str, Any]
    session: SSOSession

    @property
    def scope(self) -> str:
        return self.claims["scope"]

    def check_client(self, client: RelyingApp) -> bool:
        return client.pk == self.session.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        return False  # `exp` was checked when it was read

    def is_revoked(self) -> bool:
        return False  # its session was live when it was read

    def get_client(self) -> RelyingApp:
        return self.session.client

    def get_user(self) -> AbstractBaseUser:
        return self.session.user


def client_access_token_read(raw: str) -> ClientAccessToken | None:
    """`raw` if it is an access token the token endpoint issued (RFC 9068 `typ` at+jwt, `token_type` access,
    `client_id` and `scope` claims), signed with a published key, unexpired, exact `iss`, for a live session of
    that client which its `aud` names. An ID token (typ JWT), a first-party API token (no typ, no client), a
    refresh token (HS256) or a service token is None."""
    try:
        compact_jws_check(raw)
        if header_read(raw.split(".", 1)[0]).get("typ") != ACCESS_TOKEN_TYP:
            return None
        # The audience is the client's, checked against its session below, not one fixed audience.
        claims = token_claims_decode(raw, backend=cookie_backend, audience=None, required=ACCESS_REQUIRED_CLAIMS)
    except (MalformedToken, TokenBackendError, jwt.InvalidTokenError, ValueError):
        return None
    if claims["token_type"] != "access" or not isinstance(claims.get("scope"), str):
        return None
    session = live_session_get(sid=claims["sid"], sub=claims["sub"])
    if session is None or session.client is None or not session.client.is_active:
        return None
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if claims.get("client_id") != session.client.client_id or session.client.audience not in aud:
        return None
    return ClientAccessToken(claims, session)


class ClientAccessTokenValidator(BearerTokenValidator):
    """Bearer tokens (RFC 6750) read by client_access_token_read; anything else answers 401 invalid_token."""

    def authenticate_token(self, token_string: str) -> ClientAccessToken | None:
        return client_access_token_read(token_string)


class BearerChallenge(OAuth2Error):
    """No Bearer token in the request: RFC 6750 section 3's bare challenge (no error code, the request carried no
    credentials of this scheme), where Authlib's would name the scheme "bearer" and add its own error code."""

    status_code = 401
    error = "invalid_request"

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("WWW-Authenticate", f'Bearer realm="{REALM}"')]


class RequestProtector(ResourceProtector):
    """Authlib's resource protector bound to one request. UserInfoEndpoint asks it for the token with the
    scope alone (acquire_token("openid"), the signature of Authlib's Flask integration, which finds the request
    in a context global); Django passes requests explicitly, so each request gets a protector of its own."""

    def __init__(self, request: OAuth2Request) -> None:
        super().__init__()
        self.request = request
        self.register_token_validator(ClientAccessTokenValidator(realm=REALM))

    def parse_request_authorization(self, request: OAuth2Request) -> tuple[BearerTokenValidator, str]:
        try:
            return super().parse_request_authorization(request)
        except (MissingAuthorizationError, UnsupportedTokenTypeError) as e:
            raise BearerChallenge() from e

    def acquire_token(self, scope: str) -> ClientAccessToken:
        return self.validate_request([scope], self.request)


class IssuerUserInfo(UserInfoEndpoint):
    """The claims the token's scope grants (user_info_claims, the same as the ID token's), as JSON: no client
    asks for signed UserInfo (client_metadata has no userinfo_signed_response_alg)."""

    def generate_user_info(self, user: AbstractBaseUser, scope: str) -> UserInfo:
        return UserInfo(user_info_claims(user=user, scope=scope))


def userinfo_endpoint(request: OAuth2Request) -> IssuerUserInfo:
    """The UserInfo endpoint for this request (call it with the request: (status, body, headers), or OAuth2Error)."""
    return IssuerUserInfo(server=server, resource_protector=RequestProtector(request))
