"""The OpenID Connect session surface: RP-initiated logout (/oauth/logout/) and UserInfo (/oauth/userinfo/).
Thin: issuer.services.end_session and issuer.services.userinfo decide, on Authlib's endpoints."""

import logging
from typing import Any

from authlib.oauth2 import OAuth2Error
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..http import client_ip
from ..selectors import session_is_live
from ..services import browser
from ..services.end_session import IssuerEndSession
from ..services.oidc_provider import server
from ..services.userinfo import userinfo_endpoint
from . import discovery
from .pages import delete_session_cookies

logger = logging.getLogger(__name__)


def discovery_fields(issuer_url: str) -> dict[str, Any]:
    """What this module serves, in the discovery document."""
    return {
        "userinfo_endpoint": f"{issuer_url}/oauth/userinfo/",
        "end_session_endpoint": f"{issuer_url}/oauth/logout/",
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
    }


# At import: issuer/urls.py imports this module, so the document names these endpoints wherever they are served.
discovery.METADATA_EXTENSIONS.append(discovery_fields)


def _confirm(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    """The issuer's own sign-out page: a form posting to /session/logout/ with its CSRF token, which ends this
    browser's sign-on and lands on the signed-out page, never on a URI the request named."""
    signed_in = browser.signed_in_user(request.COOKIES.get(settings.SSO_BROWSER["ACCESS_COOKIE_NAME"]))
    context = {"next": "", "username": signed_in[0].get_username() if signed_in else ""}
    return render(request, "issuer/logout.html", context, status=status)


# CSRF-exempt: relying parties send browsers here from their own sites, by GET or by a POSTed form (section 2),
# and cannot hold the issuer's CSRF token. That is safe because nothing is ended here without an ID token hint
# the issuer signed; a request without one only gets the confirmation form, which is CSRF-protected.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@never_cache
def end_session(request: HttpRequest) -> HttpResponse:
    """RP-initiated logout: with a valid id_token_hint, end the sign-on it came from (every client of it) and go
    to the registered post_logout_redirect_uri (with `state`) or the signed-out page; otherwise ask first."""
    try:
        end_session_request = server.validate_endpoint_request(IssuerEndSession.ENDPOINT_NAME, request)
    except OAuth2Error as error:
        logger.info("auth event=end_session_refused reason=%s ip=%s", error.description, client_ip(request) or "-")
        # A hint that does not verify: no redirect (section 4), and the person may still sign out here.
        return _confirm(request, status=400)
    if end_session_request.needs_confirmation:
        return _confirm(request)
    signed_in = browser.signed_in_user(request.COOKIES.get(settings.SSO_BROWSER["ACCESS_COOKIE_NAME"]))
    response = server.create_endpoint_response(IssuerEndSession.ENDPOINT_NAME, end_session_request)
    if response is None:
        response = HttpResponseRedirect(reverse("browser_signed_out"))
    # This browser's cookies go when they belong to the sign-on just ended (or to none still live); cookies of
    # another live sign-on stay: a hint someone else holds must not sign this browser out.
    if signed_in is None or not session_is_live(sid=signed_in[1]["sid"]):
        delete_session_cookies(response)
    return response


@csrf_exempt  # Bearer-authenticated (RFC 6750): no cookie is read, so there is nothing to forge
@require_http_methods(["GET", "POST"])
@never_cache
def userinfo(request: HttpRequest) -> HttpResponse:
    """The claims about the signed-in person that the access token's scope grants; 401 with WWW-Authenticate
    for a missing, invalid, expired or revoked token."""
    oauth_request = server.create_oauth2_request(request)
    try:
        result = userinfo_endpoint(oauth_request)(oauth_request)
    except OAuth2Error as error:
        return server.handle_error_response(oauth_request, error)
    return server.handle_response(*result)
