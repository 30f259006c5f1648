"""The any-domain mode's endpoints under /sso/ (sso_client.oidc holds the protocol): login starts the code
flow, callback finishes it and sets this site's own cookies, refresh renews them server to server, logout
signs out here and at the issuer, backchannel-logout hears of sign-outs elsewhere.

The cookies, all host-only and HttpOnly: the access token (path /, SameSite=Lax, as long as the token lives),
the refresh token and the ID token (for id_token_hint) on path /sso/ only, and the sign-in in flight (state,
nonce, PKCE verifier and where to go back to, signed, for FLOW_SECONDS). Secure whenever the request is, or the site's session cookie is."""

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import clock, oidc
from .conf import oidc_mode, sso_settings
from .ended_sessions import session_end
from .step_up import TWO_FACTORS_ACR
from .verify import TokenRejected, token_verify

logger = logging.getLogger(__name__)

FLOW_SALT = "sso_client.oidc.flow"
MAX_AGE_DIGITS = 9  # over thirty years: anything longer is not a step-up's


def _oidc_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    # The URLs exist in every mode (one include); in cookie mode they are not this site's business.
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not oidc_mode():
            raise Http404
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    return wrapper


def _next_path(request: HttpRequest) -> str:
    """Where to go back to: a path on this site, never another origin (`//host`, `/\\host`, a scheme)."""
    value = request.GET.get("next") or "/"
    if value.startswith("/") and url_has_allowed_host_and_scheme(value, allowed_hosts=None):
        return value
    return "/"


def _step_up_params(request: HttpRequest) -> dict[str, str]:
    """A step-up's max_age (whole seconds) and acr_values (the one value the issuer knows, urn:sso:2fa), passed
    on to the authorization request; anything else is left out, so a mangled link is an ordinary sign-in."""
    params = {}
    max_age = request.GET.get("max_age", "")
    if max_age.isascii() and max_age.isdigit() and len(max_age) <= MAX_AGE_DIGITS:
        params["max_age"] = str(int(max_age))
    if request.GET.get("acr_values") == TWO_FACTORS_ACR:
        params["acr_values"] = TWO_FACTORS_ACR
    return params


def _callback_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("sso_callback"))


def _secure(request: HttpRequest) -> bool:
    # Behind a TLS-terminating proxy the request may look like HTTP: the site's session-cookie policy decides too.
    return request.is_secure() or settings.SESSION_COOKIE_SECURE


def _cookie(response: HttpResponse, request: HttpRequest, name: str, value: str, *, max_age: int, path: str) -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, secure=_secure(request), httponly=True, samesite="Lax")


def _keep_tokens(response: HttpResponse, request: HttpRequest, tokens: oidc.TokenSet) -> None:
    conf = sso_settings()
    lifetime = max(0, int(tokens.access.exp - clock.now()))
    _cookie(response, request, conf["ACCESS_COOKIE_NAME"], tokens.access.raw, max_age=lifetime, path="/")
    for name, value in ((conf["REFRESH_COOKIE_NAME"], tokens.refresh), (conf["ID_TOKEN_COOKIE_NAME"], tokens.id_token)):
        if value is not None:  # a refresh answer without a new one leaves the one kept in place
            _cookie(response, request, name, value, max_age=conf["REFRESH_COOKIE_SECONDS"], path="/sso/")


def _forget_tokens(response: HttpResponse) -> None:
    conf = sso_settings()
    response.delete_cookie(conf["ACCESS_COOKIE_NAME"], path="/", samesite="Lax")
    for name in (conf["REFRESH_COOKIE_NAME"], conf["ID_TOKEN_COOKIE_NAME"]):
        response.delete_cookie(name, path="/sso/", samesite="Lax")


def _failed_page(request: HttpRequest, *, status: int, unavailable: bool) -> HttpResponse:
    context = {"site_name": sso_settings()["AUDIENCE"], "unavailable": unavailable, "sign_in_url": reverse("sso_login")}
    return render(request, "sso_client/sign_in_failed.html", context, status=status)


def _login_redirect(next_path: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse('sso_login')}?{urlencode({'next': next_path})}")


@_oidc_only
@require_GET
def login(request: HttpRequest) -> HttpResponse:
    """Send the browser to the issuer's authorization endpoint; the issuer signs it in (silently when it has
    a session there, through its step-up page when max_age and acr_values ask for a recent second factor) and
    sends it back to the callback with a code."""
    try:
        start = oidc.sign_in_start(redirect_uri=_callback_uri(request), extra=_step_up_params(request))
    except oidc.SignInRefused as e:
        logger.warning("auth event=oidc_login_failed reason=%s", e.reason)
        return _failed_page(request, status=502, unavailable=True)
    flow = {"state": start.state, "nonce": start.nonce, "verifier": start.verifier, "next": _next_path(request)}
    response = HttpResponseRedirect(start.url)
    response.set_signed_cookie(
        sso_settings()["FLOW_COOKIE_NAME"],
        json.dumps(flow),
        salt=FLOW_SALT,
        max_age=sso_settings()["FLOW_SECONDS"],
        path="/sso/",
        secure=_secure(request),
        httponly=True,
        samesite="Lax",  # sent on the issuer's redirect back (a top-level GET), not on a cross-site POST
    )
    return response


def _flow(request: HttpRequest) -> dict[str, str] | None:
    conf = sso_settings()
    try:
        value = request.get_signed_cookie(conf["FLOW_COOKIE_NAME"], salt=FLOW_SALT, max_age=conf["FLOW_SECONDS"])
        flow = json.loads(value)
    except (KeyError, signing.BadSignature, ValueError):
        return None
    return (
        flow
        if isinstance(flow, dict) and all(isinstance(flow.get(k), str) for k in ("state", "nonce", "verifier", "next"))
        else None
    )


@_oidc_only
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    """The issuer's answer: check state (and iss), exchange the code with the PKCE verifier, verify the ID
    token (nonce) and the access token, then keep them in this site's cookies and go back. The sign-in in
    flight is used once: a replayed callback finds none."""
    flow = _flow(request)
    if flow is None:
        logger.info("auth event=oidc_callback_refused reason=no sign-in in flight")
        response = _failed_page(request, status=400, unavailable=False)
    else:
        try:
            code = oidc.authorization_response_check(request.GET, state=flow["state"])
            tokens = oidc.code_exchange(
                code=code, verifier=flow["verifier"], redirect_uri=_callback_uri(request), nonce=flow["nonce"]
            )
        except oidc.SignInRefused as e:
            unavailable = isinstance(e, oidc.IssuerUnavailable)
            logger.info("auth event=oidc_callback_refused reason=%s", e.reason)
            response = _failed_page(request, status=502 if unavailable else 400, unavailable=unavailable)
        else:
            logger.info("auth event=oidc_signed_in sub=%s sid=%s", tokens.access.claims["sub"], tokens.access.sid)
            response = HttpResponseRedirect(flow["next"])
            _keep_tokens(response, request, tokens)
    response.delete_cookie(sso_settings()["FLOW_COOKIE_NAME"], path="/sso/", samesite="Lax")
    return response


def _same_origin(request: HttpRequest) -> bool:
    return request.headers.get("Origin") == request.build_absolute_uri("/").rstrip("/")


@_oidc_only
@csrf_exempt  # a renewal changes nothing a forger gains by; _same_origin still keeps it to this site's pages
@require_http_methods(["GET", "POST"])
def refresh(request: HttpRequest) -> HttpResponse:
    """Renew the access cookie from the refresh cookie, server to server. GET (a browser whose access cookie
    expired, sent here by sso_client.browser): back to `next`, or on to login when renewal fails. POST (the
    pages' renewal script, same origin only): {"expires_in": seconds}, or 401."""
    script = request.method == "POST"
    if script and not _same_origin(request):
        return JsonResponse({"detail": "Same-origin requests only.", "code": "cross_origin"}, status=403)
    raw = request.COOKIES.get(sso_settings()["REFRESH_COOKIE_NAME"])
    tokens = None
    if raw:
        try:
            tokens = oidc.tokens_refresh(raw)
        except oidc.SignInRefused as e:
            logger.info("auth event=oidc_refresh_refused reason=%s", e.reason)
    if tokens is None:
        response = (
            JsonResponse({"detail": "Sign in again.", "code": "not_authenticated"}, status=401)
            if script
            else _login_redirect(_next_path(request))
        )
        _forget_tokens(response)
        return response
    logger.info("auth event=oidc_refreshed sid=%s", tokens.access.sid)
    if script:
        response = JsonResponse({"expires_in": max(0, int(tokens.access.exp - clock.now()))})
    else:
        response = HttpResponseRedirect(_next_path(request))
    _keep_tokens(response, request, tokens)
    return response


@_oidc_only
@require_POST  # and Django's CSRF check: a foreign page must not sign the person out
def logout(request: HttpRequest) -> HttpResponse:
    """Sign out here (the cookies, and the session's tokens refused at once) and at the issuer, which signs
    out of every app and comes back to this site's home."""
    conf = sso_settings()
    access = request.COOKIES.get(conf["ACCESS_COOKIE_NAME"])
    if access:
        try:
            session_end(token_verify(access).sid)
        except TokenRejected:
            pass  # nothing live to end here
    try:
        url = oidc.end_session_url(
            id_token_hint=request.COOKIES.get(conf["ID_TOKEN_COOKIE_NAME"]),
            post_logout_redirect_uri=request.build_absolute_uri("/"),
        )
    except oidc.SignInRefused as e:
        logger.warning("auth event=oidc_logout_failed reason=%s", e.reason)
        response = _failed_page(request, status=502, unavailable=True)
    else:
        logger.info("auth event=oidc_signed_out")
        response = HttpResponseRedirect(url)
    _forget_tokens(response)
    return response


@_oidc_only
@csrf_exempt  # the issuer posts server to server; the signed logout token is the credential
@require_POST
def backchannel_logout(request: HttpRequest) -> HttpResponse:
    """Back-Channel Logout 1.0: a logout token from the issuer ends its session here at once. 200 when it
    verified, 400 (with an OAuth error body) when it did not."""
    raw = request.POST.get("logout_token", "")
    try:
        claims = oidc.logout_token_verify(raw)
    except oidc.SignInRefused as e:
        logger.info("auth event=backchannel_logout_refused reason=%s", e.reason)
        return JsonResponse(
            {"error": "invalid_request", "error_description": "The logout token was refused."}, status=400
        )
    session_end(claims["sid"])
    logger.info("auth event=backchannel_logout sid=%s sub=%s", claims["sid"], claims.get("sub", ""))
    return HttpResponse(status=200)
