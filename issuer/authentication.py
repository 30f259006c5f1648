"""How the issuer's own API authenticates: its own access tokens, naming the issuer in `aud`."""

from django.contrib.auth import get_user_model
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import TokenError

from .models import SSOSession
from .signing.tokens import SSOAccessToken

User = get_user_model()


class IssuerAccessTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <access token>`; the session must still be live (the issuer can ask its database)."""

    keyword = "Bearer"

    def authenticate(self, request: Request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header.", code="bad_authorization_header")
        try:
            token = SSOAccessToken(parts[1].decode("ascii"))
        except (TokenError, UnicodeDecodeError) as e:
            raise exceptions.AuthenticationFailed("Token is invalid or expired.", code="token_not_valid") from e
        session = SSOSession.objects.select_related("user").filter(sid=token["sid"], revoked_at__isnull=True).first()
        if session is None or not session.user.is_active or str(session.user.pk) != token["sub"]:
            raise exceptions.AuthenticationFailed("Token is invalid or expired.", code="token_not_valid")
        return session.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="sso"'
