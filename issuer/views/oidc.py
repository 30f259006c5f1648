"""The OpenID Connect provider's endpoints: authorization (on the issuer's browser sign-on), token, revocation
and introspection. Thin: Authlib (issuer.services.oidc_provider.server) validates the protocol, the issuer's
services decide.

The authorization endpoint lives under /session/ so that it receives the refresh cookie: a browser whose access
cookie has expired is renewed in place, not sent round the renewal page."""

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidRequestError, OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError, InteractionRequiredError, LoginRequiredError
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import clock
from ..http import client_ip
from ..models import RelyingApp, SSOSession
from ..selectors import user_audiences
from ..services import browser, mfa
from ..services.browser import Renewal
from ..services.errors import SignOnError
from ..services.oauth_clients import consent_covers, consent_grant
from ..services.oidc_provider import SCOPE_MEANINGS, IssuerRequest, server
from .pages import _refresh_cookie, set_session_cookies

logger = logging.getLogger(__name__)

# prompt=login and an exceeded max_age send the browser to the login page with this marker in the authorization
# URL it returns to: the time it was sent, signed, so only a sign-on made after it satisfies the request (a
# client cannot forge one, and the person cannot skip the login page by dropping `prompt`).
FRESH_LOGIN_PARAM = "sso_fresh_login"
FRESH_LOGIN_SALT = "issuer.oidc.fresh-login"
FRESH_LOGIN_MAX_AGE = 600
# What the consent form posts beside the authorization request's own parameters.
CONSENT_FORM_FIELDS = {"csrfmiddlewaretoken", "decision"}


@dataclass(frozen=True)
class SignOn:
    """The browser's sign-on at the issuer, and the cookies to set when it was just renewed."""

    user: AbstractBaseUser
    session: SSOSession
    renewal: Renewal | None

    @property
    def auth_time(self) -> float:
        return (self.session.auth_time or self.session.created_at).timestamp()


def _sign_on(request: HttpRequest) -> SignOn | None:
    """Who the access cookie says is signed in; with an expired one and a live refresh cookie, renewed in place."""
    signed_in = browser.signed_in_user(request.COOKIES.get(settings.SSO_BROWSER["ACCESS_COOKIE_NAME"]))
    renewal = None
    if signed_in is None:
        raw_refresh = _refresh_cookie(request)
        if not raw_refresh:
            return None
        try:
            renewal = browser.session_renew(raw_refresh=raw_refresh, ip=client_ip(request))
        except SignOnError:
            return None
        signed_in = browser.signed_in_user(renewal.access)
        if signed_in is None:
            return None
    user, token = signed_in
    session = SSOSession.objects.filter(sid=token["sid"], client__isnull=True).first()
    return None if session is None else SignOn(user, session, renewal)


def _finish(response: HttpResponse, sign_on: SignOn | None) -> HttpResponse:
    if sign_on is not None and sign_on.renewal is not None:
        renewal = sign_on.renewal
        set_session_cookies(
            response, access=renewal.access, refresh=renewal.refresh, access_expires_in=renewal.access_expires_in
        )
    response["Cache-Control"] = "no-store"
    return response


def _error_page(request: HttpRequest, error: OAuth2Error) -> HttpResponse:
    """An error about the client or its redirect URI: said on the issuer, never redirected (RFC 6749 section
    4.1.2.1), since the redirect URI is what cannot be trusted."""
    logger.info("auth event=authorize_refused error=%s ip=%s", error.error, client_ip(request) or "-")
    context = {
        "title": "This sign-in link is not valid",
        "message": f"The app that sent you here made a request this sign-on service cannot accept "
        f"({error.error}: {error.description or 'invalid request'}). Go back and try again, or tell the app's owner.",
        "next": "/",
        "username": "",
    }
    return render(request, "issuer/notice.html", context, status=400)


def _error(request: HttpRequest, oauth_request: IssuerRequest, error: OAuth2Error) -> HttpResponse:
    if not error.redirect_uri:
        return _error_page(request, error)
    error.state = oauth_request.payload.state
    response = server.handle_error_response(oauth_request, error)
    server.execute_hook("after_create_authorization_response", response)  # RFC 9207's iss on errors too
    return response


def _authorization_url(request: HttpRequest, oauth_request: IssuerRequest, **extra: str) -> str:
    """This authorization request as a GET URL (it may have come as a POST): where the login page and the consent
    form lead back to."""
    params = {k: v for k, v in oauth_request.payload.data.items() if k not in CONSENT_FORM_FIELDS}
    return f"{request.path}?{urlencode({**params, **extra})}"


def _login_redirect(request: HttpRequest, oauth_request: IssuerRequest, *, fresh: bool) -> HttpResponse:
    extra = {FRESH_LOGIN_PARAM: signing.dumps(clock.now().timestamp(), salt=FRESH_LOGIN_SALT)} if fresh else {}
    next_url = _authorization_url(request, oauth_request, **extra)
    return HttpResponseRedirect(f"{reverse('browser_login')}?{urlencode({'next': next_url})}")


def _fresh_login_since(oauth_request: IssuerRequest) -> float | None:
    marker = oauth_request.payload.data.get(FRESH_LOGIN_PARAM, "")
    try:
        return signing.loads(marker, salt=FRESH_LOGIN_SALT, max_age=FRESH_LOGIN_MAX_AGE)
    except signing.BadSignature:
        return None


def _max_age(raw: str | None, *, redirect_uri: str) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit():
        raise InvalidRequestError("Invalid 'max_age'.", redirect_uri=redirect_uri)
    return int(raw)


def _acr_values(oauth_request: IssuerRequest) -> list[str]:
    """The requested acr values (OpenID Connect Core 3.1.2.1, a voluntary request): a value this issuer does not
    know is ignored, as the spec allows, and the acr in the ID token says what the sign-on really proved."""
    return oauth_request.payload.data.get("acr_values", "").split()


def _needs_login(oauth_request: IssuerRequest, sign_on: SignOn, *, prompts: list[str], max_age: int | None) -> bool:
    """prompt=login, or a sign-on older than max_age, asks for the password again, unless this sign-on was made
    after the login page this request was sent to."""
    too_old = max_age is not None and clock.now().timestamp() - sign_on.auth_time > max_age
    if "login" not in prompts and not too_old:
        return False
    since = _fresh_login_since(oauth_request)
    return since is None or sign_on.auth_time <= since


@csrf_exempt
@require_http_methods(["GET", "POST"])
@never_cache
def authorize(request: HttpRequest) -> HttpResponse:
    """The authorization endpoint: response_type=code with PKCE S256, for a signed-in person who may use the
    client's app and, for a client that is not first-party, has consented.

    GET and POST both (OpenID Connect Core 3.1.2.1: a client may post its request from its own page, so the
    view is CSRF-exempt); the consent form's decision alone changes anything, and it must pass the CSRF check."""
    sign_on = _sign_on(request)
    user = sign_on.user if sign_on else None
    try:
        grant = server.get_consent_grant(request, end_user=user)
    except OAuth2Error as error:
        return _finish(_error(request, server.create_oauth2_request(request), error), sign_on)
    oauth_request: IssuerRequest = grant.request
    client = oauth_request.client
    prompts = oauth_request.payload.data.get("prompt", "").split()
    try:
        max_age = _max_age(oauth_request.payload.data.get("max_age"), redirect_uri=grant.redirect_uri)
        if sign_on is not None and _needs_login(oauth_request, sign_on, prompts=prompts, max_age=max_age):
            if "none" in prompts:
                raise LoginRequiredError(redirect_uri=grant.redirect_uri)
            return _finish(_login_redirect(request, oauth_request, fresh=True), sign_on)
        if sign_on is None:
            if "none" in prompts:
                raise LoginRequiredError(redirect_uri=grant.redirect_uri)
            return _login_redirect(request, oauth_request, fresh="login" in prompts or max_age is not None)
        if client.audience not in user_audiences(user=sign_on.user):
            raise AccessDeniedError("Your account may not use this app.", redirect_uri=grant.redirect_uri)
        two_factors_asked = mfa.ACR_TWO_FACTORS in _acr_values(oauth_request)
        if mfa.MFA not in sign_on.session.amr and (two_factors_asked or mfa.mfa_required_for(sign_on.user, client)):
            # A password alone never yields a code for this app, or for a client that asked for two factors:
            # step up (the same session), then come back.
            if "none" in prompts:
                raise InteractionRequiredError(redirect_uri=grant.redirect_uri)
            next_url = _authorization_url(request, oauth_request)
            return _finish(
                HttpResponseRedirect(f"{reverse('browser_step_up')}?{urlencode({'next': next_url})}"), sign_on
            )
        scope = oauth_request.scope
        if "consent" in prompts or not consent_covers(user=sign_on.user, client=client, scope=scope):
            if "none" in prompts:
                raise ConsentRequiredError(redirect_uri=grant.redirect_uri)
            decision = request.POST.get("decision")
            if decision is None:
                page = _consent_page(
                    request, sign_on, client=client, scope=scope, action=_authorization_url(request, oauth_request)
                )
                return _finish(page, sign_on)
            refusal = CsrfViewMiddleware(lambda request: HttpResponse()).process_view(request, None, (), {})
            if refusal is not None:
                return _finish(refusal, sign_on)
            if decision != "allow":
                raise AccessDeniedError(redirect_uri=grant.redirect_uri)
            consent_grant(user=sign_on.user, client=client, scope=scope, ip=oauth_request.ip)
    except OAuth2Error as error:
        return _finish(_error(request, oauth_request, error), sign_on)
    oauth_request.browser_session = sign_on.session
    response = server.create_authorization_response(oauth_request, grant_user=sign_on.user, grant=grant)
    return _finish(response, sign_on)


def _consent_page(
    request: HttpRequest, sign_on: SignOn, *, client: RelyingApp, scope: str, action: str
) -> HttpResponse:
    context = {
        "client_name": client.name,
        "client_origin": client.origin,
        "scopes": [(name, SCOPE_MEANINGS.get(name, name)) for name in scope.split()],
        "username": sign_on.user.get_username(),
        "action": action,
    }
    return render(request, "issuer/consent.html", context)


def _no_store(response: HttpResponse) -> HttpResponse:
    # RFC 6749 section 5.1: an answer with tokens (or about them) is never cached.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@csrf_exempt
@require_POST
def token(request: HttpRequest) -> HttpResponse:
    """The token endpoint (RFC 6749, form-encoded): authorization_code, refresh_token, client_credentials."""
    return _no_store(server.create_token_response(request))


@csrf_exempt
@require_POST
def revoke(request: HttpRequest) -> HttpResponse:
    """RFC 7009 token revocation: ends the client session the token belongs to."""
    return _no_store(server.create_endpoint_response("revocation", request))


@csrf_exempt
@require_POST
def introspect(request: HttpRequest) -> HttpResponse:
    """RFC 7662 token introspection, for relying apps and service clients that prefer asking."""
    return _no_store(server.create_endpoint_response("introspection", request))


@require_GET
def client_registration(request: HttpRequest) -> HttpResponse:
    """The calling client's registration as the issuer holds it (in the spirit of RFC 7592's client read),
    authenticated as at the token endpoint (HTTP Basic with its id and secret), so a relying app can check
    what it was registered with against what it does (`manage.py sso_check`). A client sees only its own."""
    oauth_request = server.create_oauth2_request(request)
    try:
        client = server.authenticate_client(oauth_request, ["client_secret_basic"], endpoint="registration")
    except OAuth2Error as error:
        return _no_store(server.handle_error_response(oauth_request, error))
    body = {
        "client_id": client.client_id,
        "client_name": client.name,
        "audience": client.audience,
        "redirect_uris": client.redirect_uri_list,
        "post_logout_redirect_uris": client.post_logout_redirect_uri_list,
        "backchannel_logout_uri": client.backchannel_logout_uri or None,
        "scope": client.allowed_scopes,
        "first_party": client.is_first_party,
    }
    return _no_store(JsonResponse(body))
