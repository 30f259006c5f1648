"""How the issuer's own account API authenticates: access tokens for the issuer's audience alone. Tokens
handed to relying apps (the default from /api/token/, the browser's access cookie, /session/token/) never
name it, so no relying app can act here as the person it received a token from."""

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import TokenError

from sso_client.bearer import MalformedBearerHeader, bearer_token

from .messages import INVALID_AUTHORIZATION_HEADER, TOKEN_NOT_VALID
from .selectors import live_session_get
from .signing.tokens import SSOAccessToken

User = get_user_model()


class IssuerAccessTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <access token>`; the session must still be live (the issuer can ask its database)."""

    def authenticate(self, request: Request):
        try:
            raw = bearer_token(request)
        except MalformedBearerHeader as e:
            if e.code == "bad_authorization_header":
                raise exceptions.AuthenticationFailed(INVALID_AUTHORIZATION_HEADER, code=e.code) from e
            raise exceptions.AuthenticationFailed(TOKEN_NOT_VALID, code="token_not_valid") from e
        if raw is None:
            return None
        try:
            token = SSOAccessToken(raw)
        except TokenError as e:
            raise exceptions.AuthenticationFailed(TOKEN_NOT_VALID, code="token_not_valid") from e
        audience = token["aud"] if isinstance(token["aud"], list) else [token["aud"]]
        if audience != [settings.SSO_ISSUER["AUDIENCE"]]:
            # A token that also names relying apps was handed to them: it must not open this API.
            raise exceptions.AuthenticationFailed(TOKEN_NOT_VALID, code="token_not_valid")
        session = live_session_get(sid=token["sid"], sub=token["sub"])
        if session is None:
            raise exceptions.AuthenticationFailed(TOKEN_NOT_VALID, code="token_not_valid")
        return session.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="sso"'
