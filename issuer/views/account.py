"""The account page, /account/: a signed-in person's profile, password, sessions, second factors, recovery
codes and apps. Thin: issuer.services.account, passkeys, totp and recovery_codes decide.

One page, one form per change, each a POST naming its `action` under Django's CSRF check; after a change the
browser is sent back to the page (no form resent on reload), except where a secret is shown once (recovery
codes), which is rendered in the POST's own answer and never stored.

Taking away a second factor, adding one, generating recovery codes and changing the email address (where
password-reset links go) need a recent re-authentication (the
password or a second factor within REAUTH_SECONDS, or a sign-in that recent): a session stolen from an
unlocked browser must not be able to remove the factors that protect the account or plant its own."""

import logging
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from .. import clock
from ..http import client_ip
from ..models import RecoveryCode, RelyingApp, SSOSession, TOTPDevice, WebAuthnCredential
from ..selectors import user_audiences, user_sessions_live
from ..services import account, browser, mfa, passkeys, recovery_codes, totp
from ..services.credentials import InvalidCredentials, LoginThrottled, credentials_authenticate
from ..services.errors import SignOnError
from .pages import delete_session_cookies

logger = logging.getLogger(__name__)

REAUTH_SECONDS = 5 * 60
# The newest sessions the page lists; the rest are counted (`/api/sessions/` pages through them all).
SESSIONS_SHOWN = 50
# The Django session remembers the last re-authentication, for the SSO session it was made in.
REAUTH_SESSION_KEY = "account_reauth"
# The authenticator app being added: its secret is shown (QR code) until a code from it confirms it.
TOTP_ENROLMENT_SESSION_KEY = "account_totp_enrolment"


class ProfileForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(max_length=254)


class PasswordForm(forms.Form):
    old_password = forms.CharField(max_length=4096, strip=False, widget=forms.PasswordInput)
    new_password1 = forms.CharField(max_length=4096, strip=False, widget=forms.PasswordInput)
    new_password2 = forms.CharField(max_length=4096, strip=False, widget=forms.PasswordInput)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("new_password1") != data.get("new_password2"):
            raise ValidationError("The two new password fields didn’t match.")
        return data


class ReauthForm(forms.Form):
    password = forms.CharField(max_length=4096, strip=False, widget=forms.PasswordInput, required=False)
    code = forms.CharField(max_length=20, required=False)

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("password") and not data.get("code"):
            raise ValidationError("Enter your password or a code from your authenticator app.")
        return data


class CodeForm(forms.Form):
    code = forms.CharField(max_length=20)


class NewFactorForm(forms.Form):
    name = forms.CharField(max_length=passkeys.MAX_NAME_LENGTH, required=False)


class NameForm(forms.Form):
    id = forms.IntegerField(min_value=1)
    name = forms.CharField(max_length=passkeys.MAX_NAME_LENGTH)


class IdForm(forms.Form):
    id = forms.IntegerField(min_value=1)


class SessionForm(forms.Form):
    sid = forms.CharField(max_length=32)


def reauth_is_recent(request: HttpRequest, *, sid: str) -> bool:
    """Whether the person proved who they are within REAUTH_SECONDS in this SSO session (a sign-in counts)."""
    now = clock.now().timestamp()
    remembered = request.session.get(REAUTH_SESSION_KEY) or {}
    if remembered.get("sid") == sid and now - float(remembered.get("at", 0)) <= REAUTH_SECONDS:
        return True
    session = SSOSession.objects.filter(sid=sid).only("auth_time", "created_at").first()
    if session is None:
        return False
    # When the person last proved who they are for this session (a step-up moves auth_time; a refresh does not).
    return (session.auth_time or session.created_at) >= clock.now() - timedelta(seconds=REAUTH_SECONDS)


def reauth_remember(request: HttpRequest, *, sid: str) -> None:
    """The person proved who they are just now (the password, or a passkey through issuer.views.passkeys)."""
    request.session[REAUTH_SESSION_KEY] = {"sid": sid, "at": clock.now().timestamp()}


def _context(request: HttpRequest, *, user, sid: str, **given) -> dict:
    sessions = user_sessions_live(user=user)
    shown = list(sessions[:SESSIONS_SHOWN])
    return {
        "username": user.get_username(),
        "profile_form": given.get("profile_form")
        or ProfileForm(initial={"first_name": user.first_name, "last_name": user.last_name, "email": user.email}),
        "password_form": given.get("password_form") or PasswordForm(),
        "reauth_form": given.get("reauth_form") or ReauthForm(),
        "reauth_recent": reauth_is_recent(request, sid=sid),
        "reauth_minutes": REAUTH_SECONDS // 60,
        "current_sid": sid,
        "sessions": shown,
        "sessions_not_shown": sessions.count() - len(shown) if len(shown) == SESSIONS_SHOWN else 0,
        "passkeys": WebAuthnCredential.objects.filter(user=user),
        "apps": RelyingApp.objects.filter(is_active=True, audience__in=user_audiences(user=user)),
        "recovery_codes": given.get("recovery_codes"),
        "totp_form": given.get("totp_form") or CodeForm(),
        **_mfa_context(request, user=user),
    }


def _mfa_context(request: HttpRequest, *, user) -> dict:
    """The authenticator apps and recovery codes part of the page, with an enrolment under way if there is one."""
    enrolling = TOTPDevice.objects.filter(
        user=user, confirmed_at__isnull=True, pk=request.session.get(TOTP_ENROLMENT_SESSION_KEY)
    ).first()
    return {
        "totp_devices": TOTPDevice.objects.filter(user=user, confirmed_at__isnull=False),
        "totp_enrolment": totp.totp_enrolment(enrolling) if enrolling is not None else None,
        "recovery_codes_remaining": recovery_codes.recovery_codes_remaining(user),
        "has_recovery_codes": RecoveryCode.objects.filter(user=user).exists(),
    }


def _back(request: HttpRequest, message: str = "") -> HttpResponse:
    if message:
        messages.success(request, message)
    return HttpResponseRedirect(reverse("account"))


@sensitive_post_parameters("old_password", "new_password1", "new_password2", "password", "code")
@require_http_methods(["GET", "POST"])
@never_cache
def account_page(request: HttpRequest) -> HttpResponse:
    signed_in = browser.signed_in_user(request.COOKIES.get(settings.SSO_BROWSER["ACCESS_COOKIE_NAME"]))
    if signed_in is None:
        # The access cookie may only have expired: renewal brings the person straight back, or to sign in.
        return HttpResponseRedirect(f"{reverse('browser_renew')}?next={reverse('account')}")
    user, token = signed_in
    sid = token["sid"]
    if request.method == "GET":
        return render(request, "issuer/account.html", _context(request, user=user, sid=sid))
    handler = ACTIONS.get(request.POST.get("action", ""))
    if handler is None:
        return render(request, "issuer/account.html", _context(request, user=user, sid=sid), status=400)
    return handler(request, user=user, sid=sid)


def _profile(request: HttpRequest, *, user, sid: str) -> HttpResponse:
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return render(
            request, "issuer/account.html", _context(request, user=user, sid=sid, profile_form=form), status=400
        )
    if form.cleaned_data["email"] != user.email:
        # Password-reset links go to this address: moving it is how a stolen session becomes a stolen account.
        refusal = _reauth_needed(request, user=user, sid=sid)
        if refusal is not None:
            return refusal
    changed = account.profile_update(user=user, ip=client_ip(request), **form.cleaned_data)
    return _back(request, "Profile saved." if changed else "")


def _password_refused(form: forms.Form, field: str, error: SignOnError) -> int:
    """Say on `form` why the password was refused; returns the answer's status."""
    if isinstance(error, LoginThrottled):
        form.add_error(field, "Too many wrong passwords. Try again later.")
        return 429
    form.add_error(field, "That is not your password.")
    return 401


def _password(request: HttpRequest, *, user, sid: str) -> HttpResponse:
    form = PasswordForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            account.password_change(
                user=user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
                ip=client_ip(request),
            )
        except (LoginThrottled, InvalidCredentials) as e:
            status = _password_refused(form, "old_password", e)
        except ValidationError as e:
            form.add_error("new_password1", e)
        else:
            messages.success(request, "Password changed. Every other sign-in of your account has ended.")
            # The change ended every session (issuer.signals), this one too: this browser, which just proved the
            # password, signs in again with what its session had proved, so it keeps its place (the other
            # sessions are what a password change must end).
            proved = SSOSession.objects.filter(sid=sid).values_list("amr", flat=True).first() or ["pwd"]
            return mfa.sign_in_complete(request, user=user, amr=proved, next=reverse("account"))
    context = _context(request, user=user, sid=sid, password_form=form)
    return render(request, "issuer/account.html", context, status=status)


def _reauth(request: HttpRequest, *, user, sid: str) -> HttpResponse:
    form = ReauthForm(request.POST)
    status = 400
    if form.is_valid() and not form.cleaned_data["password"]:
        try:
            totp.totp_verify(user=user, code=form.cleaned_data["code"], ip=client_ip(request))
        except (totp.CodeRefused, totp.CodeThrottled) as e:
            status = _code_refused(form, "code", e)
        else:
            reauth_remember(request, sid=sid)
            return _back(request, f"Confirmed: you can change your second factors for {REAUTH_SECONDS // 60} minutes.")
    elif form.is_valid():
        try:
            credentials_authenticate(
                username=user.get_username(), password=form.cleaned_data["password"], ip=client_ip(request)
            )
        except (LoginThrottled, InvalidCredentials) as e:
            status = _password_refused(form, "password", e)
        else:
            reauth_remember(request, sid=sid)
            return _back(request, f"Confirmed: you can change your second factors for {REAUTH_SECONDS // 60} minutes.")
    return render(
        request, "issuer/account.html", _context(request, user=user, sid=sid, reauth_form=form), status=status
    )


def _refused(request: HttpRequest, *, user, sid: str, message: str, status: int) -> HttpResponse:
    messages.error(request, message)
    return render(request, "issuer/account.html", _context(request, user=user, sid=sid), status=status)


def _session_revoke(request: HttpRequest, *, user, sid: str) -> HttpResponse:
    form = SessionForm(request.POST)
    if not form.is_valid() or not account.own_session_revoke(
        user=user, sid=form.cleaned_data["sid"], ip=client_ip(request)
    ):
        return _refused(request, user=user, sid=sid, message="That session has already ended.", status=404)
    if form.cleaned_data["sid"] == sid:
        response = HttpResponseRedirect(reverse("browser_signed_out"))
        delete_session_cookies(response)
        return response
    return _back(request, "Session ended.")


def _code_refused(form: forms.Form, field: str, error: Exception) -> int:
    """Say on `form` why the authenticator code was refused; returns the answer's status."""
    if isinstance(error, totp.CodeThrottled):
        form.add_error(field, "Too many wrong codes. Try again later.")
        return 429
    form.add_error(field, "That code is wrong or was already used.")
    return 400


def _reauth_needed(request: HttpRequest, *, user, sid: str) -> HttpResponse | None:
    if reauth_is_recent(request, sid=sid):
        return None
    return _refused(request, user=user, sid=sid, message="Confirm it is you first.", status=403)


def _totp_add(request: HttpRequest, *, user, sid: str) -> HttpResponse:
    refusal = _reauth_needed(request, user=user, sid=sid)
    if refusal is not None:
        return refusal
    form = NewFactorForm(request.POST)
    name = (form.cleaned_data["name"] if form.is_valid() else "") or "Authenticator app"
    enrolment = totp.totp_enrol_begin(user=user, name=name)
    request.session[TOTP_ENROLMENT_SESSION_KEY] = enrolment.device.pk
    return _back(request)


def _totp_confirm(request: HttpRequest, *, user, sid: str) -> HttpResponse:
    device = TOTPDevice.objects.filter(
        user=user, confirmed_at__isnull=True, pk=request.session.get(TOTP_ENROLMENT_SESSION_KEY)
    ).first()
    form = CodeForm(request.POST)
    if device is None or not form.is_valid():
        return _refused(request, user=user, sid=sid, message="Start adding the app again.", status=400)
    try:
        totp.totp_enrol_confirm(device=device, code=form.cleaned_data["code"], ip=client_ip(request))
    except (totp.CodeRefused, totp.CodeThrottled) as e:
        status = _code_refused(form, "code", e)
        context = _context(request, user=user, sid=sid, totp_form=form)
        return render(request, "issuer/account.html", context, status=status)
    request.session.pop(TOTP_ENROLMENT_SESSION_KEY, None)
    account.account_notify(user=user, subject="authenticator app added", what=f"The app “{device.name}” was added.")
    return _back(request, "Authenticator app added.")


def _recovery_generate(request: HttpRequest, *, user, sid: str) -> HttpResponse:
    refusal = _reauth_needed(request, user=user, sid=sid)
    if refusal is not None:
        return refusal
    codes = recovery_codes.recovery_codes_generate(user=user, ip=client_ip(request))
    account.account_notify(
        user=user, subject="new recovery codes", what="New recovery codes were made; the earlier ones no longer work."
    )
    # Shown in this answer only, never stored or put in a redirect: reloading does not show them again.
    return render(request, "issuer/account.html", _context(request, user=user, sid=sid, recovery_codes=codes))


# The second factors a person can rename and remove here: their model and what the person calls them.
FACTOR_KINDS = {"passkey": (WebAuthnCredential, "passkey"), "totp": (TOTPDevice, "authenticator app")}


def _factor(request: HttpRequest, *, user) -> tuple[str, WebAuthnCredential | TOTPDevice] | None:
    """The person's own second factor the form names (`kind`, `id`), if it is theirs."""
    form = IdForm(request.POST)
    kind = FACTOR_KINDS.get(request.POST.get("kind", ""))
    if kind is None or not form.is_valid():
        return None
    model, label = kind
    factor = model.objects.filter(user=user, pk=form.cleaned_data["id"]).first()
    return (label, factor) if factor is not None else None


def _factor_rename(request: HttpRequest, *, user, sid: str) -> HttpResponse:
    found = _factor(request, user=user)
    form = NameForm(request.POST)
    if found is None or not form.is_valid():
        return _refused(request, user=user, sid=sid, message="That could not be renamed.", status=400)
    label, factor = found
    account.factor_rename(factor=factor, name=form.cleaned_data["name"], ip=client_ip(request))
    return _back(request, f"{label.capitalize()} renamed.")


def _factor_remove(request: HttpRequest, *, user, sid: str) -> HttpResponse:
    refusal = _reauth_needed(request, user=user, sid=sid)
    if refusal is not None:
        return refusal
    found = _factor(request, user=user)
    if found is None:
        return _refused(request, user=user, sid=sid, message="That is already gone.", status=404)
    label, factor = found
    if isinstance(factor, TOTPDevice):
        totp.totp_remove(device=factor, ip=client_ip(request))
    else:
        passkeys.passkey_remove(passkey=factor, ip=client_ip(request))
    account.account_notify(user=user, subject=f"{label} removed", what=f"The {label} “{factor.name}” was removed.")
    return _back(request, f"{label.capitalize()} removed.")


ACTIONS = {
    "profile": _profile,
    "password": _password,
    "reauth": _reauth,
    "session_revoke": _session_revoke,
    "factor_rename": _factor_rename,
    "factor_remove": _factor_remove,
    "totp_add": _totp_add,
    "totp_confirm": _totp_confirm,
    "recovery_generate": _recovery_generate,
}
