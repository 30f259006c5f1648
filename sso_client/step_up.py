"""Step-up at a relying app: "requires MFA within N minutes", as a DRF permission (RequiresMFA) and a view
decorator (requires_mfa). The token must say a second factor was used (`amr` holds "mfa", RFC 8176) and when
(`auth_time` within N minutes). A refusal is RFC 9470's challenge, 401 with
`WWW-Authenticate: Bearer error="insufficient_user_authentication", ..., acr_values="urn:sso:2fa", max_age=N`;
a browser page is sent to the issuer's step-up page instead, which upgrades the session and sends it back (in
any-domain mode through this site's login, asking the issuer for urn:sso:2fa within N minutes)."""

import functools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.urls import reverse
from rest_framework import exceptions, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from . import clock
from .conf import oidc_mode, sso_settings
from .user import SSOUser

logger = logging.getLogger(__name__)

TWO_FACTORS_ACR = "urn:sso:2fa"
STEP_UP_PATH = "/login/step-up/"


class InsufficientUserAuthentication(exceptions.APIException):
    """The token is valid, but its sign-in proved too little or too long ago (RFC 9470)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "insufficient_user_authentication"

    def __init__(self, *, max_age: int) -> None:
        minutes = max_age // 60
        super().__init__(f"This needs a second factor used within the last {minutes} minutes.")
        self.max_age = max_age

    @property
    def challenge(self) -> str:
        return (
            'Bearer error="insufficient_user_authentication", '
            f'error_description="{self.detail}", acr_values="{TWO_FACTORS_ACR}", max_age={self.max_age}'
        )


def mfa_within(claims: dict[str, Any], *, max_age: int) -> bool:
    """Whether the token's sign-in used a second factor at most `max_age` seconds ago."""
    amr = claims.get("amr")
    auth_time = claims.get("auth_time")
    if not isinstance(amr, list) or "mfa" not in amr or not isinstance(auth_time, int | float):
        return False
    return 0 <= clock.now() - auth_time <= max_age


def _check(request: Any, *, max_age: int) -> None:
    claims = getattr(getattr(request, "auth", None), "claims", None) or {}
    if not mfa_within(claims, max_age=max_age):
        logger.info("auth event=step_up_required path=%s max_age=%d", request.path, max_age)
        raise InsufficientUserAuthentication(max_age=max_age)


def RequiresMFA(minutes: int) -> type[BasePermission]:  # noqa: N802  (used like a class, as HasRole is)
    """A permission class letting in people whose token shows a second factor used within `minutes`."""
    max_age = minutes * 60

    class _RequiresMFA(BasePermission):
        __doc__ = f"People who used a second factor within the last {minutes} minutes."

        def has_permission(self, request: Request, view: Any) -> bool:
            if not isinstance(request.user, SSOUser):
                return False  # not signed in: the ordinary 401 (or the sign-in redirect) comes first
            _check(request, max_age=max_age)
            return True

    _RequiresMFA.__name__ = f"RequiresMFA_{minutes}"
    return _RequiresMFA


def requires_mfa(minutes: int) -> Callable:
    """The same for a DRF view method or function view (`request.auth` set by SSOAuthentication)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            request = next(arg for arg in args if isinstance(arg, Request))
            if isinstance(request.user, SSOUser):
                _check(request, max_age=minutes * 60)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def step_up_url(request: Request, *, max_age: int) -> str:
    """The issuer's step-up page, coming back to this page. In any-domain mode this site's login instead: its
    token belongs to its own client session, which only a new authorization (asking for two factors within
    max_age) upgrades, and the issuer sends a browser back to no other domain's page."""
    if oidc_mode():
        query = {"next": request.get_full_path(), "max_age": max_age, "acr_values": TWO_FACTORS_ACR}
        return f"{reverse('sso_login')}?{urlencode(query)}"
    issuer = sso_settings()["ISSUER"].rstrip("/")
    return f"{issuer}{STEP_UP_PATH}?{urlencode({'next': request.build_absolute_uri(), 'max_age': max_age})}"


def step_up_response(exc: InsufficientUserAuthentication, request: Request | None, *, browser: bool) -> Any:
    """A browser page load goes to step up and comes back; anything else gets None (the 401 challenge)."""
    if browser and request is not None and request.method in ("GET", "HEAD"):
        response = HttpResponseRedirect(step_up_url(request, max_age=exc.max_age))
        response["Cache-Control"] = "no-store"
        return response
    return None
