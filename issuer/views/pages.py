"""The issuer's browser pages: sign in, sign out, the cookie renewal that relying apps send browsers to, and
the credentialed endpoint that gives script on a relying origin a Bearer token. Thin: issuer.services.browser,
credentials and sessions decide.

Two cookies carry a browser session. `sso_access` holds the access token, HttpOnly, on SSO_COOKIE_DOMAIN so
every relying app receives it, and lives as long as the token. `sso_refresh` holds the refresh token,
HttpOnly, host-only on the issuer and sent only to /session/ (renew, token, logout), so no relying app and no
other issuer page ever sees it. Both are SameSite=Lax, and Secure when the origins are HTTPS."""

import contextlib
import logging
import math
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import messages
from ..http import client_ip
from ..models import RelyingApp, SSOSession
from ..selectors import user_audiences
from ..services import browser, mfa
from ..services.credentials import InvalidCredentials, LoginThrottled, SignInBusy, credentials_authenticate
from ..services.errors import SignOnError
from ..services.sessions import TokenPair, TokenTooLarge, logout, session_revoke, session_start
from ..signing.tokens import SSOAccessToken

# The Django session of a staff member who signed in here remembers its SSO session, so ending that SSO
# session ends the admin session too (issuer.middleware).
SESSION_SID_KEY = "sso_sid"
# Counts renewals in a short window: a relying app that keeps refusing fresh cookies (a wrong
# SSO_COOKIE_DOMAIN, an unknown signing key) would otherwise bounce the browser between the sites forever.
# The count travels signed (Django's signed cookies), so the client can drop it, which starts it where every
# browser starts, but never set it: a forged, negative or expired value counts as none.
RENEWALS_WINDOW_SECONDS = 20
MAX_RENEWALS_IN_WINDOW = 5
RENEWALS_SALT = "issuer.web.renewals"

logger = logging.getLogger(__name__)


class LoginForm(forms.Form):
    username = forms.CharField(max_length=150, strip=False)
    password = forms.CharField(max_length=4096, strip=False, widget=forms.PasswordInput)


# ---- cookies ----------------------------------------------------------------------------------------


def _cookie_flags() -> dict:
    return {"httponly": True, "samesite": "Lax", "secure": settings.HTTPS}


def set_session_cookies(response: HttpResponse, *, access: str, refresh: str, access_expires_in: int) -> None:
    conf = settings.SSO_BROWSER
    response.set_cookie(
        conf["ACCESS_COOKIE_NAME"],
        access,
        max_age=access_expires_in,
        path="/",
        domain=settings.SSO_COOKIE_DOMAIN,
        **_cookie_flags(),
    )
    response.set_cookie(
        conf["REFRESH_COOKIE_NAME"],
        refresh,
        max_age=int(settings.REFRESH_TOKEN_LIFETIME.total_seconds()),
        path=conf["REFRESH_COOKIE_PATH"],
        **_cookie_flags(),
    )


def delete_session_cookies(response: HttpResponse) -> None:
    conf = settings.SSO_BROWSER
    # A cookie is deleted only by naming the same domain and path it was set with.
    response.delete_cookie(conf["ACCESS_COOKIE_NAME"], path="/", domain=settings.SSO_COOKIE_DOMAIN, samesite="Lax")
    response.delete_cookie(conf["REFRESH_COOKIE_NAME"], path=conf["REFRESH_COOKIE_PATH"], samesite="Lax")
    response.delete_cookie(conf["RENEWALS_COOKIE_NAME"], path=conf["REFRESH_COOKIE_PATH"], samesite="Lax")


# ---- pages ------------------------------------------------------------------------------------------


def _page(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    # No inline script or style: the pages live under the sites' Content-Security-Policy (settings/base.py),
    # whose form-action lets the login form's redirect reach a configured site; framing is refused there and
    # by X-Frame-Options (clickjacking).
    return render(request, f"issuer/{template}", context, status=status)


def _login_url(next_url: str) -> str:
    return f"{reverse('browser_login')}?{urlencode({'next': next_url})}"


def _signed_in_username(request: HttpRequest) -> str:
    signed_in = browser.signed_in_user(request.COOKIES.get(settings.SSO_BROWSER["ACCESS_COOKIE_NAME"]))
    return signed_in[0].get_username() if signed_in else ""


def _notice(
    request: HttpRequest,
    *,
    title: str,
    message: str,
    status: int,
    next_url: str = "",
    username: str | None = None,
    switch_to: str = "",
) -> HttpResponse:
    """Every refusal on the issuer's pages: who you are (`username`, else whoever the access cookie names),
    what you may not do, and where you can go from here (`next_url` to try again; signing in as someone
    else leads on to `switch_to`)."""
    context = {
        "title": title,
        "message": message,
        "next": next_url,
        "username": _signed_in_username(request) if username is None else username,
        "switch_to": switch_to,
    }
    return _page(request, "notice.html", context, status=status)


def _no_access(request: HttpRequest, *, name: str, target: str, username: str, why: str) -> HttpResponse:
    return _notice(
        request,
        title=f"No access to {name}",
        message=f"You are signed in, but {why} Ask an administrator if you need it.",
        status=403,
        username=username,
        switch_to=target,
    )


def _continue_to(request: HttpRequest, next_url: str, *, access: str) -> HttpResponse:
    """Send a freshly signed-in browser on, unless its target is an app or a staff page this person may not use."""
    claims = SSOAccessToken(access, verify=False)
    username = claims.get("username") or f"user {claims['sub']}"
    refused = browser.app_refused(next_url=next_url, access=access)
    if refused is not None and mfa.step_up_would_admit(user_id=claims["sub"], app=refused, amr=claims.get("amr", [])):
        # The person may use the app with a second factor: ask for it (the step-up page says when they have none).
        return HttpResponseRedirect(f"{reverse('browser_step_up')}?{urlencode({'next': next_url})}")
    if refused is not None:
        why = f"your account may not use {refused.name}."
        return _no_access(request, name=refused.name, target=next_url, username=username, why=why)
    staff_page = browser.staff_page_refused(next_url=next_url, access=access)
    if staff_page is not None:
        why = f"{staff_page} is for staff accounts only."
        return _no_access(request, name=staff_page, target=next_url, username=username, why=why)
    response = HttpResponseRedirect(next_url)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@never_cache
def home(request: HttpRequest) -> HttpResponse:
    """Who is signed in here, and the apps they may use."""
    signed_in = browser.signed_in_user(request.COOKIES.get(settings.SSO_BROWSER["ACCESS_COOKIE_NAME"]))
    context: dict = {"signed_in": signed_in is not None, "sign_in_url": f"{reverse('browser_renew')}?next=/"}
    if signed_in is not None:
        user, token = signed_in
        audiences = user_audiences(user=user)
        context.update(
            username=user.get_username(),
            roles=token.get("roles", []),
            is_staff=user.is_staff,
            apps=RelyingApp.objects.filter(is_active=True, audience__in=audiences),
            script_page=f"{settings.ORDERS_URL}/script/" if "orders" in audiences else "",
        )
    return _page(request, "home.html", context)


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
@never_cache
def login_page(request: HttpRequest) -> HttpResponse:
    """The sign-in form. Success sets both cookies (and, for staff, the admin's Django session) and returns
    the browser to `next` when that is the issuer or a configured site; anywhere else, home."""
    next_url = browser.redirect_target(request.POST.get("next") or request.GET.get("next"))
    form = LoginForm(request.POST if request.method == "POST" else None)
    status = 200
    retry_after = None
    if request.method == "POST":
        status = 400
        if form.is_valid():
            ip = client_ip(request)
            try:
                user = credentials_authenticate(
                    username=form.cleaned_data["username"], password=form.cleaned_data["password"], ip=ip
                )
                if mfa.user_has_second_factor(user):
                    # Not signed in yet: the second step (issuer/views/second_factor.py) finishes the sign-in.
                    response = HttpResponseRedirect(reverse("browser_second_factor"))
                    mfa.pending_start(response, user=user, next_url=next_url, amr=["pwd"])
                    return response
                pair = session_start(user=user, ip=ip, user_agent=request.META.get("HTTP_USER_AGENT", ""))
            except LoginThrottled as e:
                form.add_error(None, f"{messages.PAGE_LOGIN_THROTTLED} Try again in {wait_in_words(e.retry_after)}.")
                status = 429
                retry_after = e.retry_after
            except SignInBusy as e:
                form.add_error(None, messages.SIGN_IN_BUSY)
                status = 503
                retry_after = e.retry_after
            except InvalidCredentials:
                form.add_error(None, messages.PAGE_INVALID_CREDENTIALS)
                status = 401
            except TokenTooLarge:
                form.add_error(None, messages.TOKEN_TOO_LARGE)
                status = 403
            else:
                return signed_in_response(request, user=user, pair=pair, next_url=next_url)
    context = {"form": form, "next": next_url, "destination": browser.destination_name(next_url)}
    response = _page(request, "login.html", context, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def signed_in_response(request: HttpRequest, *, user, pair: TokenPair, next_url: str) -> HttpResponse:
    """A browser just signed in (or stepped up): both cookies, for staff the admin's Django session, and the
    way on. Staff whom a second factor is required of get the admin only with one; someone a second factor
    is required of who has none yet is told so, and where to add one."""
    amr = pair.session.amr
    if user.is_staff and (mfa.MFA in amr or not mfa.mfa_required_everywhere(user)):
        auth.login(request, user)
        request.session[SESSION_SID_KEY] = pair.session.sid
    if mfa.MFA not in amr and mfa.mfa_required_everywhere(user):
        response = second_factor_needed(request, username=user.get_username())
    else:
        response = _continue_to(request, next_url, access=pair.access)
    set_session_cookies(response, access=pair.access, refresh=pair.refresh, access_expires_in=pair.access_expires_in)
    return response


def second_factor_needed(request: HttpRequest, *, username: str, app: str = "") -> HttpResponse:
    """A second factor is required of this person, who has none yet: say so, and where to add one."""
    return _page(request, "second_factor_needed.html", {"username": username, "app": app}, status=403)


def wait_in_words(seconds: int) -> str:
    """A wait as a person reads it: "45 seconds", "1 minute", "10 minutes" (rounded up, never shorter)."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@require_GET
@never_cache
def logout_page(request: HttpRequest) -> HttpResponse:
    """Asks to confirm, then posts to /session/logout/ (a POST with a CSRF token: a link or an image on
    another site cannot sign anyone out)."""
    return _page(
        request,
        "logout.html",
        {"next": browser.redirect_target(request.GET.get("next")), "username": _signed_in_username(request)},
    )


@require_GET
@never_cache
def signed_out_page(request: HttpRequest) -> HttpResponse:
    next_url = browser.redirect_target(request.GET.get("next"))
    return _page(request, "signed_out.html", {"sign_in_url": _login_url(next_url)})


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin signs in through the SSO login page, which also starts the admin's Django session. Someone
    already signed in who is not staff is told so: the sign-in form again would say nothing."""
    next_url = browser.redirect_target(request.GET.get("next") or "/admin/")
    signed_in = browser.signed_in_user(request.COOKIES.get(settings.SSO_BROWSER["ACCESS_COOKIE_NAME"]))
    user = signed_in[0] if signed_in else request.user
    if user.is_authenticated and not user.is_staff:
        name = browser.staff_page_name(next_url) or "Administration"
        why = f"{name} is for staff accounts only."
        return _no_access(request, name=name, target=next_url, username=user.get_username(), why=why)
    return HttpResponseRedirect(_login_url(next_url))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Django's CSRF refusal (CSRF_FAILURE_VIEW) in the issuer's own words and style."""
    logger.info("auth event=csrf_refused path=%s ip=%s", request.path, client_ip(request) or "-")
    return _notice(
        request,
        title="This form could not be sent",
        message="It was open too long, or your browser did not send this site's security cookie. "
        "Go back, reload the page and send the form again.",
        status=403,
    )


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says; the icon is a static file."""
    response = HttpResponseRedirect(static("issuer/favicon.svg"))
    response["Cache-Control"] = "max-age=86400"
    return response


def admin_logout(request: HttpRequest) -> HttpResponse:
    """The admin's "Log out" ends the SSO session (every app), not only the admin: it leads to the sign-out page."""
    return HttpResponseRedirect(reverse("browser_logout"))


# ---- /session/: the endpoints that read the refresh cookie -------------------------------------------


def _refresh_cookie(request: HttpRequest) -> str:
    """The refresh cookie, unless the browser sent two: one of them was planted by another site on a parent
    domain (in dev, where the __Host- prefix cannot stop it), and Django would keep whichever came last."""
    name = settings.SSO_BROWSER["REFRESH_COOKIE_NAME"]
    sent = [part.split("=", 1)[0].strip() for part in request.META.get("HTTP_COOKIE", "").split(";")]
    if sent.count(name) > 1:
        logger.warning("auth event=refresh_cookie_duplicated ip=%s", client_ip(request) or "-")
        return ""
    return request.COOKIES.get(name, "")


@require_GET
@never_cache
def session_renew(request: HttpRequest) -> HttpResponse:
    """Where a relying app sends a browser whose access cookie is missing or refused: renew both cookies from
    the refresh cookie and send it back (silent renewal), or show the login page when there is no session."""
    next_url = browser.redirect_target(request.GET.get("next"))
    raw_refresh = _refresh_cookie(request)
    if not raw_refresh:
        return HttpResponseRedirect(_login_url(next_url))
    renewals = int(
        request.get_signed_cookie(
            settings.SSO_BROWSER["RENEWALS_COOKIE_NAME"], "0", salt=RENEWALS_SALT, max_age=RENEWALS_WINDOW_SECONDS
        )
    )
    if renewals >= MAX_RENEWALS_IN_WINDOW:
        return _notice(
            request,
            title="Signed in, but the app did not accept it",
            message="The page you came from keeps asking to sign in again. Wait a few seconds and try again; "
            "if this persists, its sign-on configuration (SSO_COOKIE_DOMAIN) needs attention.",
            status=409,
            next_url=next_url,
        )
    try:
        renewal = browser.session_renew(raw_refresh=raw_refresh, ip=client_ip(request))
    except SignOnError:
        response = HttpResponseRedirect(_login_url(next_url))
        delete_session_cookies(response)
        return response
    response = _continue_to(request, next_url, access=renewal.access)
    set_session_cookies(
        response, access=renewal.access, refresh=renewal.refresh, access_expires_in=renewal.access_expires_in
    )
    response.set_signed_cookie(
        settings.SSO_BROWSER["RENEWALS_COOKIE_NAME"],
        str(renewals + 1),
        salt=RENEWALS_SALT,
        max_age=RENEWALS_WINDOW_SECONDS,
        path=settings.SSO_BROWSER["REFRESH_COOKIE_PATH"],
        **_cookie_flags(),
    )
    return response


def _json_error(detail: str, code: str, status: int) -> JsonResponse:
    response = JsonResponse({"detail": detail, "code": code}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_POST
def session_token(request: HttpRequest) -> JsonResponse:
    """POST from script on a configured origin, with credentials: a Bearer access token for this browser's
    session, renewed from the refresh cookie (which is rotated).

    Not protected by Django's CSRF token (a relying origin cannot read the issuer's), but by its Origin:
    sibling subdomains are same-site, so SameSite=Lax alone would let any of them spend the refresh cookie.
    The Origin must be a configured site or a registered first-party client exactly; browsers always send it
    on a cross-origin POST and script cannot forge it. django-cors-headers then lets only those origins read
    the answer."""
    origin = request.headers.get("Origin", "")
    if not browser.script_origin_allowed(origin):
        return _json_error("Origin not allowed.", "origin_not_allowed", 403)
    raw_refresh = _refresh_cookie(request)
    if not raw_refresh:
        return _json_error("Not signed in.", "not_signed_in", 401)
    try:
        renewal = browser.session_renew(raw_refresh=raw_refresh, ip=client_ip(request))
    except SignOnError:
        response = _json_error("Not signed in.", "not_signed_in", 401)
        delete_session_cookies(response)
        return response
    response = JsonResponse({"access": renewal.access, "token_type": "Bearer", "expires_in": renewal.access_expires_in})
    response["Cache-Control"] = "no-store"
    set_session_cookies(
        response, access=renewal.access, refresh=renewal.refresh, access_expires_in=renewal.access_expires_in
    )
    return response


@require_POST
@never_cache
def session_logout(request: HttpRequest) -> HttpResponse:
    """End this browser's SSO session (every app: relying apps learn it through the revocation list), delete
    both cookies, and end the admin session."""
    ip = client_ip(request)
    raw_refresh = _refresh_cookie(request)
    if raw_refresh:
        # A refresh token that no longer reads (expired, tampered) has nothing left to revoke through it.
        with contextlib.suppress(SignOnError):
            logout(raw_refresh=raw_refresh, ip=ip)
    # The session may also be known from the access cookie or the admin's Django session (no refresh cookie
    # in this request, e.g. after it expired); revoking an ended session is a no-op.
    signed_in = browser.signed_in_user(request.COOKIES.get(settings.SSO_BROWSER["ACCESS_COOKIE_NAME"]))
    sids = {request.session.get(SESSION_SID_KEY), signed_in[1]["sid"] if signed_in else None} - {None}
    for session in SSOSession.objects.select_related("user").filter(sid__in=sids):
        session_revoke(session=session, reason=SSOSession.RevokedReason.LOGOUT, ip=ip)
    auth.logout(request)
    next_url = browser.redirect_target(request.POST.get("next"))
    response = HttpResponseRedirect(f"{reverse('browser_signed_out')}?{urlencode({'next': next_url})}")
    delete_session_cookies(response)
    return response
