"""DRF authentication for relying apps: a Bearer header, else the SSO access cookie. Never both, never
a query string. A cookie is sent by the browser on its own, so a cookie-authenticated unsafe request must
also pass Django's CSRF check (the attack: a foreign page posting to this app with the user's cookie)."""

import logging

from django.conf import settings
from django.middleware.csrf import CsrfViewMiddleware
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from . import metrics
from .bearer import MalformedBearerHeader, bearer_token, has_authorization_header
from .conf import sso_settings
from .service import ServiceCaller, VerifiedServiceToken, service_caller_from, service_token_verify
from .user import SSOUser
from .verify import TokenRejected, VerifiedToken, token_verify

logger = logging.getLogger(__name__)

NOT_VALID = "Authentication credentials were not valid."
CSRF_FAILED = "CSRF Failed: the request did not pass the CSRF check."


def _bearer_or_refuse(request: Request) -> str | None:
    try:
        return bearer_token(request)
    except MalformedBearerHeader as e:
        raise exceptions.AuthenticationFailed(refusal_detail(e.code), code=e.code) from e


class _CSRFCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def presented_access_token(request: Request) -> tuple[str, bool] | None:
    """The access token a request presents and whether it came by cookie: the Bearer header, else (when no
    Authorization header names any scheme) the access cookie; None when there is neither. Raises
    MalformedBearerHeader. DRF's SSOAuthentication and the middleware for plain views both read it here."""
    raw = bearer_token(request)
    if raw is not None:
        return raw, False
    if has_authorization_header(request):
        return None  # another scheme: not ours, and the cookie is not read beside it
    raw = request.COOKIES.get(sso_settings()["ACCESS_COOKIE_NAME"])
    return (raw, True) if raw else None


def refusal_detail(reason: str) -> str:
    """The 401's detail: generic in production; with the refusal's reason when DEBUG is on, so a developer
    sees why (a stock project's logging does not show the INFO line that says it)."""
    return f"{NOT_VALID} ({reason})" if settings.DEBUG else NOT_VALID


class SSOAuthentication(authentication.BaseAuthentication):
    """Accepts SSO access tokens for this app's audience; the user is built from the claims."""

    def authenticate(self, request: Request) -> tuple[SSOUser, VerifiedToken] | None:
        try:
            presented = presented_access_token(request)
        except MalformedBearerHeader as e:
            raise exceptions.AuthenticationFailed(refusal_detail(e.code), code=e.code) from e
        if presented is None:
            return None
        raw, via_cookie = presented
        try:
            token = token_verify(raw)
        except TokenRejected as e:
            metrics.token_rejected(e.reason)
            logger.info("auth event=token_rejected reason=%s via=%s", e.reason, "cookie" if via_cookie else "bearer")
            raise exceptions.AuthenticationFailed(refusal_detail(e.reason), code="token_not_valid") from e
        if via_cookie:
            self.enforce_csrf(request)
        return SSOUser.from_claims(token.claims), token

    def enforce_csrf(self, request: Request) -> None:
        check = _CSRFCheck(lambda req: None)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            # Django's reason names the check and echoes the request's Origin: for the log, not the client.
            logger.info("auth event=csrf_refused reason=%s", reason.split(" - ")[0])
            raise exceptions.PermissionDenied(CSRF_FAILED, code="csrf_failed")

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{sso_settings()["AUDIENCE"]}"'


class ServiceTokenAuthentication(authentication.BaseAuthentication):
    """Accepts service tokens for this app (a service calling as itself), from the Bearer header only: a
    service has no browser, so there is no cookie path and no CSRF to consider. Only views that list it
    accept service tokens; compose with HasScope to say what the caller must be allowed to do."""

    def authenticate(self, request: Request) -> tuple[ServiceCaller, VerifiedServiceToken] | None:
        raw = _bearer_or_refuse(request)
        if raw is None:
            return None
        try:
            token = service_token_verify(raw)
        except TokenRejected as e:
            metrics.token_rejected(e.reason)
            logger.info("auth event=service_token_rejected reason=%s", e.reason)
            raise exceptions.AuthenticationFailed(refusal_detail(e.reason), code="token_not_valid") from e
        return service_caller_from(token), token

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{sso_settings()["AUDIENCE"]}"'
