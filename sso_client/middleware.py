"""Plain Django views at a relying site: `request.user` is the person the access token names (Bearer
header, else the access cookie, read as DRF's SSOAuthentication reads them), or an AnonymousSSOUser, for
every view; `login_required`, `user.is_authenticated` and templates work without DRF. Put it after
Django's AuthenticationMiddleware when the site has one (that one would replace request.user); system
check sso_client.E010 says so. A cookie is sent by the browser on its own, so unsafe requests rely on
Django's CsrfViewMiddleware, as any cookie-authenticated Django site does."""

import logging
from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import SimpleLazyObject
from django.utils.module_loading import import_string

from .authentication import presented_access_token
from .bearer import MalformedBearerHeader
from .conf import sso_settings
from .user import AnonymousSSOUser, SSOUser
from .verify import TokenRejected, VerifiedToken, token_verify

logger = logging.getLogger(__name__)

# Set in DEBUG only: why the presented token was refused (never in production: it helps an attacker probe).
REFUSAL_HEADER = "SSO-Refusal-Reason"


@cache
def user_backend(path: str) -> Any:
    return import_string(path)()


def _verified_token(request: HttpRequest) -> VerifiedToken | None:
    """The valid access token the request presents, or None (the reason kept on request.sso_refusal)."""
    try:
        presented = presented_access_token(request)
    except MalformedBearerHeader as e:
        request.sso_refusal = e.code
        return None
    if presented is None:
        return None
    raw, via_cookie = presented
    try:
        return token_verify(raw)
    except TokenRejected as e:
        logger.info("auth event=token_rejected reason=%s via=%s", e.reason, "cookie" if via_cookie else "bearer")
        request.sso_refusal = e.reason
        return None


def _user_for(request: HttpRequest, token: VerifiedToken | None) -> Any:
    """Who the token is at this site, from SSO_CLIENT["USER_BACKEND"] (a local user costs a query)."""
    if token is None:
        return AnonymousSSOUser()
    user = user_backend(sso_settings()["USER_BACKEND"]).authenticate(request, token=token)
    return user if user is not None else AnonymousSSOUser()


class SSOAuthenticationMiddleware:
    """Sets request.sso_token (the VerifiedToken, or None), request.sso_user (its SSOUser, with the issuer's
    roles, or None) and request.user (lazily: a view that never asks makes no local-user query). The token is
    verified up front, so sso_user is right whichever a view or template reads first; a token DRF verifies
    again comes from the verified-token cache."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.sso_refusal = None
        token = request.sso_token = _verified_token(request)
        request.sso_user = SSOUser.from_claims(token.claims) if token is not None else None
        request.user = SimpleLazyObject(lambda: _user_for(request, token))
        response = self.get_response(request)
        if settings.DEBUG and request.sso_refusal:
            response[REFUSAL_HEADER] = request.sso_refusal
        return response
