"""Who a verified access token is at this site, for plain Django views (sso_client.middleware): the
stateless SSOUser by default, or, opt-in, a local `auth.User` linked to the token so the site's own admin,
foreign keys and `has_perm` keep working. SSO_CLIENT["USER_BACKEND"] names the class."""

import logging
from typing import Any

from django.http import HttpRequest

from .user import SSOUser
from .verify import VerifiedToken

logger = logging.getLogger(__name__)


class SSOUserBackend:
    """The default: the user is the token (no database row, no local permissions)."""

    def authenticate(self, request: HttpRequest, *, token: VerifiedToken) -> Any:
        return SSOUser.from_claims(token.claims)


class LocalUserBackend(SSOUserBackend):
    """Links the token to a local user, creating one on first sight (like mozilla-django-oidc). Override
    `get_or_create_user(claims)` to link otherwise (by email, by a profile row holding `sub`), or
    `local_username(claims)` to name new users differently. The site's own `is_staff`, groups and permissions
    stay the site's: nothing is copied from the token but the name. The issuer's roles remain on
    `request.sso_user`. A local user the site deactivated is refused (anonymous)."""

    def authenticate(self, request: HttpRequest, *, token: VerifiedToken) -> Any:
        user = self.get_or_create_user(token.claims)
        if user is None or not user.is_active:
            logger.info("auth event=local_user_refused sub=%s", token.claims["sub"])
            return None
        return user

    def local_username(self, claims: dict[str, Any]) -> str:
        """The local username for the token's person. The issuer's usernames are unique and its accounts are
        deactivated rather than deleted, so a name is never handed to someone else; a site that cannot rely
        on that overrides this (or get_or_create_user) to key on `sub`."""
        return claims.get("username") or f"sso-{claims['sub']}"

    def get_or_create_user(self, claims: dict[str, Any]) -> Any:
        """The hook: the local user for these verified claims, or None to refuse."""
        from django.contrib.auth import get_user_model

        user_model = get_user_model()
        user, created = user_model._default_manager.get_or_create(
            **{user_model.USERNAME_FIELD: self.local_username(claims)}
        )
        if created:
            # Signed in through the issuer only: a local password would be a second way in.
            user.set_unusable_password()
            user.save(update_fields=["password"])
            logger.info("auth event=local_user_created sub=%s", claims["sub"])
        return user
