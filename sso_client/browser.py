"""Browsers at a relying app: a page request without a valid access cookie is sent to the issuer, which
renews the cookie from its refresh cookie (or shows its login page) and sends the browser back (in
any-domain mode: to this site's /sso/refresh/, then its /sso/login/ if that fails, sso_client.oidc_views). A form
posted from this site's own page after the cookie expired is kept: the answer is a page holding the filled
form, whose script renews the cookie at the issuer and sends the form again. API requests keep DRF's
answer: 401 with `WWW-Authenticate: Bearer`."""

import logging
from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from rest_framework import exceptions
from rest_framework.request import Request

from webguard.errors import api_exception_handler

from .authentication import SSOAuthentication
from .conf import oidc_mode, sso_settings
from .step_up import InsufficientUserAuthentication, step_up_response

logger = logging.getLogger(__name__)

FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Marks a form sent again by the kept-form page, so a second refusal shows the form instead of looping.
RESUBMITTED_FIELD = "sso_resubmitted"


def _issuer_page(path: str, request: Request) -> str:
    # `next` is this page's absolute URL; the issuer sends the browser back only to configured origins.
    issuer = sso_settings()["ISSUER"].rstrip("/")
    return f"{issuer}{path}?{urlencode({'next': request.build_absolute_uri()})}"


def sign_in_url(request: Request) -> str:
    """Where this browser is signed in (silently when it still has a session) and sent back here: the issuer
    page in cookie mode; in any-domain mode this site's refresh, which goes on to its login when it must."""
    if oidc_mode():
        return f"{reverse('sso_refresh')}?{urlencode({'next': request.get_full_path()})}"
    return _issuer_page(sso_settings()["SIGN_IN_PATH"], request)


def sign_out_url(request: Request) -> str:
    """Where signing out ends the session at every app: the issuer's sign-out page, or in any-domain mode this
    site's logout (a POST), which goes on to the issuer's."""
    if oidc_mode():
        return reverse("sso_logout")
    return _issuer_page(sso_settings()["SIGN_OUT_PATH"], request)


def token_url() -> str:
    """Where the pages' script renews the access cookie: the issuer's credentialed endpoint, which renews the
    session from its refresh cookie, or in any-domain mode this site's own refresh (same origin)."""
    if oidc_mode():
        return reverse("sso_refresh")
    return sso_settings()["ISSUER"].rstrip("/") + "/session/token/"


def wants_html(request: Request) -> bool:
    """True when content negotiation chose an HTML renderer: a person in a browser, not a script."""
    renderer = getattr(request, "accepted_renderer", None)
    return renderer is not None and renderer.media_type == "text/html"


def _own_form_post(request: Request) -> bool:
    """A plain HTML form posted from this site's own page: the only kind of refused request whose fields are
    shown again and sent again. The CSRF check (Origin and token) is what makes it this site's own: a form
    from another site or a sibling subdomain must not be turned into a same-origin POST with fresh cookies
    (that would be a CSRF hole). A script's request (X-Requested-With, JSON) renews by itself."""
    if request.method != "POST" or request.content_type.split(";")[0].strip() not in FORM_MEDIA_TYPES:
        return False
    if "HTTP_X_REQUESTED_WITH" in request.META or request.FILES:
        return False
    try:
        SSOAuthentication().enforce_csrf(request)
    except exceptions.PermissionDenied:
        return False
    return True


def kept_form_page(request: Request) -> HttpResponse:
    """401 with the posted fields in a form that the page's script sends again once the issuer has renewed
    the cookie (or that the person sends after signing in again in another tab)."""
    fields = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in ("csrfmiddlewaretoken", RESUBMITTED_FIELD)
        for value in values
    ]
    again = RESUBMITTED_FIELD in request.POST
    logger.info("auth event=form_kept_for_renewal path=%s again=%s", request.path, again)
    context = {
        "fields": fields,
        "action": request.get_full_path(),
        "resubmitted_field": RESUBMITTED_FIELD,
        "sign_in_url": sign_in_url(request),
        "site_name": sso_settings()["AUDIENCE"],
        # Sent again automatically once; a second refusal (the app still refuses the renewed cookie) waits
        # for the person, rather than bouncing between the sites.
        "config": {"tokenUrl": token_url(), "resubmit": not again},
    }
    response = render(request._request, "sso_client/kept_form.html", context, status=401)
    response["WWW-Authenticate"] = f'Bearer realm="{sso_settings()["AUDIENCE"]}"'
    response["Cache-Control"] = "no-store"
    return response


def browser_exception_handler(exc: Exception, context: dict[str, Any]):
    """The site's DRF exception handler: a browser page load that is not signed in (no cookie, or an expired,
    revoked or otherwise refused one) is redirected to the issuer; a form this site's page posted meanwhile
    is kept (kept_form_page: a redirected POST would lose its body); everything else is
    api_exception_handler's."""
    request = context.get("request")
    if isinstance(exc, InsufficientUserAuthentication):
        # RFC 9470: a browser steps up at the issuer and comes back; a client gets the challenge to act on.
        browser = request is not None and wants_html(request) and "HTTP_AUTHORIZATION" not in request.META
        response = step_up_response(exc, request, browser=browser) or api_exception_handler(exc, context)
        response["WWW-Authenticate"] = exc.challenge
        return response
    if (
        isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed)
        and request is not None
        and wants_html(request)
        and "HTTP_AUTHORIZATION" not in request.META  # a client that chose Bearer gets the Bearer challenge
    ):
        if request.method in ("GET", "HEAD"):
            response = HttpResponseRedirect(sign_in_url(request))
            response["Cache-Control"] = "no-store"
            return response
        if _own_form_post(request):
            return kept_form_page(request)
    return api_exception_handler(exc, context)
