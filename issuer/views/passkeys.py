"""The passkey ceremonies as JSON endpoints under /passkeys/ (issuer/static/issuer/passkeys.js calls them):
options and verify for registering a passkey from the account page, and for signing in with one, as the
second step after a password (or on the step-up page), passwordless from the sign-in page, or to confirm it is
the signed-in person before the account page changes a second factor. Thin: issuer.services.passkeys decides.

Every endpoint is a POST under Django's CSRF check (the page's token in X-CSRFToken), so another site cannot
start or finish a ceremony in a signed-in person's browser. Hostile input gets a 400 with a generic body."""

import json
import logging
import re
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ..http import client_ip
from ..services import account, browser, mfa, passkeys
from ..signing.tokens import SSOAccessToken
from .account import reauth_is_recent, reauth_remember

logger = logging.getLogger(__name__)

# A request body larger than this is no WebAuthn response (an attestation object with "none" is ~300 bytes).
MAX_BODY_BYTES = 64 * 1024
_BINDING_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _binding_cookie_name() -> str:
    return f"{settings.HOST_COOKIE_PREFIX}sso_passkey"


def _error(detail: str, code: str, status: int) -> JsonResponse:
    response = JsonResponse({"detail": detail, "code": code}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _body(request: HttpRequest) -> dict | None:
    if len(request.body) > MAX_BODY_BYTES:
        return None
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; "[[[[..." nests past the stack
        return None
    return body if isinstance(body, dict) else None


def _throttled(error: passkeys.PasskeyThrottled) -> JsonResponse:
    response = _error("Too many attempts. Try again later.", "throttled", 429)
    response["Retry-After"] = str(error.retry_after)
    return response


def _binding(request: HttpRequest) -> str:
    """This browser's binding value: the one its cookie holds (so two tabs' ceremonies both work), or a new one."""
    value = request.COOKIES.get(_binding_cookie_name(), "")
    return value if _BINDING_SHAPE.match(value) else passkeys.binding_new()


def _options(options_json: str, *, binding: str) -> HttpResponse:
    response = HttpResponse(options_json, content_type="application/json")
    response["Cache-Control"] = "no-store"
    response.set_cookie(
        _binding_cookie_name(),
        binding,
        max_age=passkeys.CHALLENGE_SECONDS,
        # The __Host- prefix (HTTPS) requires Path=/; in dev the cookie goes to the ceremonies only.
        path="/" if settings.HTTPS else "/passkeys/",
        httponly=True,
        samesite="Strict",
        secure=settings.HTTPS,
    )
    return response


def _signed_in(request: HttpRequest) -> tuple[AbstractBaseUser, SSOAccessToken] | None:
    return browser.signed_in_user(request.COOKIES.get(settings.SSO_BROWSER["ACCESS_COOKIE_NAME"]))


# ---- registration (the account page) ------------------------------------------------------------------


class _Refused(Exception):
    """A request the ceremony cannot go on with; `response` says why (a JSON error)."""

    def __init__(self, detail: str, code: str, status: int) -> None:
        super().__init__(code)
        self.response = _error(detail, code, status)


def _answers_refusals(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        try:
            return view(request)
        except _Refused as e:
            return e.response

    return require_POST(never_cache(wrapper))


def _json_body(request: HttpRequest) -> dict:
    body = _body(request)
    if body is None:
        raise _Refused("Malformed request.", "malformed", 400)
    return body


def _registrant(request: HttpRequest) -> AbstractBaseUser:
    """The signed-in person adding a passkey, who must have re-authenticated recently."""
    signed_in = _signed_in(request)
    if signed_in is None:
        raise _Refused("Not signed in.", "not_signed_in", 401)
    user, token = signed_in
    if not reauth_is_recent(request, sid=token["sid"]):
        raise _Refused("Confirm it is you first.", "reauth_required", 403)
    return user


@_answers_refusals
def register_options(request: HttpRequest) -> HttpResponse:
    """Options for navigator.credentials.create(), for the signed-in person who re-authenticated recently."""
    user = _registrant(request)
    binding = _binding(request)
    return _options(passkeys.registration_begin(user=user, binding=binding), binding=binding)


@_answers_refusals
def register_verify(request: HttpRequest) -> HttpResponse:
    """The new credential: kept as the person's passkey when it verifies."""
    user = _registrant(request)
    body = _json_body(request)
    name = body.get("name") if isinstance(body.get("name"), str) else ""
    try:
        passkey = passkeys.registration_complete(
            user=user,
            credential=body.get("credential"),
            binding=request.COOKIES.get(_binding_cookie_name(), ""),
            name=name,
            ip=client_ip(request),
        )
    except passkeys.PasskeyRejected as e:
        logger.info("auth event=passkey_registration_refused reason=%s", e.reason)
        return _error("This passkey could not be added. Try again.", "passkey_rejected", 400)
    account.account_notify(user=user, subject="passkey added", what=f"The passkey “{passkey.name}” was added.")
    return JsonResponse({"id": passkey.pk, "name": passkey.name}, status=201)


# ---- authentication (the sign-in and second-step pages) ------------------------------------------------


def _ceremony(request: HttpRequest) -> tuple[dict, AbstractBaseUser | None, bool]:
    """The request's body and whose passkeys may answer: the pending person's for a second step ("mode":
    "second_factor", after a password), the signed-in person's to confirm it is them ("reauth", the account
    page), anyone's for "passwordless" (None); and whether the authenticator must verify the user (passwordless,
    or a step-up that has no other factor left to count)."""
    body = _json_body(request)
    mode = body.get("mode")
    if mode == "passwordless":
        return body, None, True
    if mode == "reauth":
        signed_in = _signed_in(request)
        if signed_in is None:
            raise _Refused("Not signed in.", "not_signed_in", 401)
        return body, signed_in[0], False
    pending = mfa.pending_read(request) if mode == "second_factor" else None
    if pending is None:
        raise _Refused("Sign in with your password first.", "no_pending_sign_in", 400)
    return body, pending.user, not any(method in mfa.FACTOR_METHODS for method in pending.amr)


@_answers_refusals
def authenticate_options(request: HttpRequest) -> HttpResponse:
    """Options for navigator.credentials.get()."""
    _body_read, user, verify_user = _ceremony(request)
    binding = _binding(request)
    try:
        options = passkeys.authentication_begin(
            user=user, binding=binding, verify_user=verify_user, ip=client_ip(request)
        )
    except passkeys.PasskeyThrottled as e:
        return _throttled(e)
    return _options(options, binding=binding)


@_answers_refusals
def authenticate_verify(request: HttpRequest) -> HttpResponse:
    """The assertion: on success the browser session starts (or steps up) and the answer says where to go."""
    body, user, verify_user = _ceremony(request)
    mode = body.get("mode")
    try:
        assertion = passkeys.authentication_complete(
            credential=body.get("credential"),
            binding=request.COOKIES.get(_binding_cookie_name(), ""),
            user=user,
            ip=client_ip(request),
            verify_user=verify_user,
        )
    except passkeys.PasskeyThrottled as e:
        return _throttled(e)
    except passkeys.PasskeyRejected:
        return _error("This passkey was not accepted.", "passkey_rejected", 400)
    if mode == "reauth":
        reauth_remember(request, sid=_signed_in(request)[1]["sid"])
        return JsonResponse({"redirect": reverse("account")})
    if mode == "second_factor":
        # After the password (or, on the step-up page, for the session being upgraded): what was proved so far.
        pending = mfa.pending_read(request)
        amr, next_url = [*pending.amr, *assertion.amr], pending.next
    else:
        # Passwordless: user verification was required, so the passkey alone is two factors ("mfa" follows).
        amr = assertion.amr
        next_url = browser.redirect_target(body.get("next") if isinstance(body.get("next"), str) else None)
    completed = mfa.sign_in_complete(request, user=assertion.user, amr=amr, next=next_url)
    return _as_json(completed, next_url=next_url)


def _as_json(completed: HttpResponse, *, next_url: str) -> JsonResponse:
    """sign_in_complete's answer, for script: its cookies, and where it leads ({"redirect": url}). A page it
    rendered instead (a refusal, such as an app this person may not use) is what `next_url` shows again."""
    location = completed.get("Location") or next_url
    response = JsonResponse({"redirect": location})
    response["Cache-Control"] = "no-store"
    for morsel in completed.cookies.values():
        response.cookies[morsel.key] = morsel
    return response
