"""The second sign-in step (/login/second-factor/: after a correct password, a code from an authenticator app,
a recovery code or a passkey) and the step-up page (/login/step-up/: a signed-in person proves a second factor,
and their password again when the sign-in is older than `max_age`, and the same session is upgraded). Thin:
issuer.services.mfa, totp and recovery_codes decide."""

from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from .. import messages
from ..http import client_ip
from ..models import SSOSession
from ..services import browser, mfa
from ..services.credentials import InvalidCredentials, LoginThrottled, credentials_authenticate
from ..services.totp import CodeRefused, CodeThrottled
from .pages import second_factor_needed, wait_in_words

CODE_REFUSED = "That code is not right, or it was already used. Enter the current code from your app."
RECOVERY_REFUSED = "That recovery code is not right, or it was already used."


class CodeForm(forms.Form):
    code = forms.CharField(max_length=64, strip=True)


class StepUpForm(CodeForm):
    password = forms.CharField(max_length=4096, strip=False, required=False, widget=forms.PasswordInput)


def _page(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    response = render(request, f"issuer/{template}", context, status=status)
    if "retry_after" in context:
        response["Retry-After"] = str(context["retry_after"])
    return response


def _code_check(request: HttpRequest, form: forms.Form, *, user, recovery: bool) -> tuple[list[str] | None, dict]:
    """The methods a submitted code adds, or None and what the page says (and its status) when it is refused."""
    try:
        return mfa.code_verify(user=user, code=form.cleaned_data["code"], ip=client_ip(request)), {}
    except CodeThrottled as e:
        error = f"{messages.PAGE_LOGIN_THROTTLED} Try again in {wait_in_words(e.retry_after)}."
        return None, {"error": error, "status": 429, "retry_after": e.retry_after}
    except CodeRefused:
        return None, {"error": RECOVERY_REFUSED if recovery else CODE_REFUSED, "status": 401}


@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
@never_cache
def second_factor_page(request: HttpRequest) -> HttpResponse:
    """After a correct password: the person's second factor, then mfa.sign_in_complete."""
    pending = mfa.pending_read(request)
    if pending is None or pending.sid:
        return HttpResponseRedirect(reverse("browser_login"))
    recovery = request.GET.get("method") == "recovery"
    context: dict = {"recovery": recovery, "username": pending.user.get_username(), "status": 200}
    if request.method == "POST":
        form = CodeForm(request.POST)
        context["status"] = 400
        if form.is_valid():
            added, refusal = _code_check(request, form, user=pending.user, recovery=recovery)
            if added is not None:
                return mfa.sign_in_complete(request, user=pending.user, amr=[*pending.amr, *added], next=pending.next)
            context.update(refusal)
    return _page(request, "second_factor.html", context, status=context.pop("status"))


def _max_age(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) <= 9 else None


@sensitive_post_parameters("code", "password")
@require_http_methods(["GET", "POST"])
@never_cache
def step_up_page(request: HttpRequest) -> HttpResponse:
    """Prove a second factor (and the password when the sign-in is older than `max_age` seconds) for the
    browser's current session, which is upgraded in place, then go back to `next` (an allowed destination)."""
    next_url = browser.redirect_target(request.GET.get("next"))
    max_age = _max_age(request.GET.get("max_age"))
    here = f"{reverse('browser_step_up')}?{urlencode({'next': next_url, **({'max_age': max_age} if max_age is not None else {})})}"
    signed_in = browser.signed_in_user(request.COOKIES.get(settings.SSO_BROWSER["ACCESS_COOKIE_NAME"]))
    if signed_in is None:
        # Renewal comes back here with a fresh access cookie, or shows the login page first.
        return HttpResponseRedirect(f"{reverse('browser_renew')}?{urlencode({'next': here})}")
    user, token = signed_in
    session = SSOSession.objects.get(sid=token["sid"])
    if not mfa.user_has_second_factor(user):
        app = browser.relying_app_for(next_url) if next_url.startswith(("http://", "https://")) else None
        return second_factor_needed(request, username=user.get_username(), app=app.name if app else "")
    fresh = mfa.session_within(session, max_age=max_age)
    if mfa.MFA in session.amr and fresh:
        return HttpResponseRedirect(next_url)
    # What still counts: a sign-in older than max_age proves nothing, so the password is asked for again.
    kept = [method for method in session.amr if method in mfa.FACTOR_METHODS] if fresh else []
    context: dict = {
        "username": user.get_username(),
        "need_password": not fresh,
        "here": here,
        "destination": browser.destination_name(next_url),
        "recovery": request.GET.get("method") == "recovery",
        "status": 200,
    }
    pending = mfa.pending_read(request)
    if request.method == "POST" and pending is not None and pending.sid == session.sid:
        form = StepUpForm(request.POST)
        context["status"] = 400
        if form.is_valid():
            password_ok, refusal = _password_check(request, user=user, form=form, needed=not fresh)
            if password_ok:
                added, refusal = _code_check(request, form, user=user, recovery=context["recovery"])
                if added is not None:
                    amr = [*kept, *(["pwd"] if not fresh else []), *added]
                    return mfa.sign_in_complete(request, user=user, amr=amr, next=next_url)
            context.update(refusal)
    response = _page(request, "step_up.html", context, status=context.pop("status"))
    mfa.pending_start(response, user=user, next_url=next_url, amr=kept, sid=session.sid)
    return response


def _password_check(request: HttpRequest, *, user, form: forms.Form, needed: bool) -> tuple[bool, dict]:
    if not needed:
        return True, {}
    try:
        credentials_authenticate(
            username=user.get_username(), password=form.cleaned_data["password"], ip=client_ip(request)
        )
    except LoginThrottled as e:
        error = f"{messages.PAGE_LOGIN_THROTTLED} Try again in {wait_in_words(e.retry_after)}."
        return False, {"error": error, "status": 429, "retry_after": e.retry_after}
    except InvalidCredentials:
        return False, {"error": messages.PAGE_INVALID_CREDENTIALS, "status": 401}
    return True, {}
