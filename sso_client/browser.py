"""Browsers at a relying app: a page request without a valid access cookie is sent to the issuer, which
renews the cookie from its refresh cookie (or shows its login page) and sends the browser back. API
requests keep DRF's answer: 401 with `WWW-Authenticate: Bearer`."""

from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from rest_framework import exceptions
from rest_framework.request import Request

from webguard.errors import api_exception_handler

from .conf import sso_settings


def _issuer_page(path: str, request: Request) -> str:
    # `next` is this page's absolute URL; the issuer sends the browser back only to configured origins.
    issuer = sso_settings()["ISSUER"].rstrip("/")
    return f"{issuer}{path}?{urlencode({'next': request.build_absolute_uri()})}"


def sign_in_url(request: Request) -> str:
    """The issuer page that signs this browser in (silently when it still has a session) and returns here."""
    return _issuer_page(sso_settings()["SIGN_IN_PATH"], request)


def sign_out_url(request: Request) -> str:
    """The issuer's sign-out page, which ends the session at every app."""
    return _issuer_page(sso_settings()["SIGN_OUT_PATH"], request)


def wants_html(request: Request) -> bool:
    """True when content negotiation chose an HTML renderer: a person in a browser, not a script."""
    renderer = getattr(request, "accepted_renderer", None)
    return renderer is not None and renderer.media_type == "text/html"


def browser_exception_handler(exc: Exception, context: dict[str, Any]):
    """The site's DRF exception handler: a browser page load that is not signed in (no cookie, or an expired,
    revoked or otherwise refused one) is redirected to the issuer; everything else is api_exception_handler's.
    Only GET and HEAD are redirected: a redirected POST would lose its body, so it gets the 401 page instead."""
    request = context.get("request")
    if (
        isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed)
        and request is not None
        and request.method in ("GET", "HEAD")
        and wants_html(request)
        and "HTTP_AUTHORIZATION" not in request.META  # a client that chose Bearer gets the Bearer challenge
    ):
        response = HttpResponseRedirect(sign_in_url(request))
        response["Cache-Control"] = "no-store"
        return response
    return api_exception_handler(exc, context)
