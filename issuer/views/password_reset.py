"""Password reset over the web: the pages a person uses from the emailed link, and the same two steps as an
API. Thin: issuer.services.password_reset decides."""

import logging

from django import forms
from django.conf import settings
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from .. import messages
from ..http import client_ip
from ..serializers import PasswordResetConfirmSerializer, PasswordResetRequestSerializer
from ..services import password_reset
from .api import PublicAPIView

logger = logging.getLogger(__name__)

# The link's token moves from the URL into the session at once, so it is not left in the address bar or sent
# onwards in a Referer header by the page that uses it.
SESSION_KEY = "password_reset_token"


class ResetRequestForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )


def _minutes() -> int:
    return int(settings.PASSWORD_RESET_TOKEN_LIFETIME.total_seconds() // 60)


def _invalid(request: HttpRequest, error: password_reset.ResetLinkInvalid) -> HttpResponse:
    logger.info("auth event=password_reset_link_refused reason=%s ip=%s", error.reason, client_ip(request) or "-")
    request.session.pop(SESSION_KEY, None)
    return render(request, "issuer/password_reset/invalid.html", {"minutes": _minutes()}, status=400)


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_request_page(request: HttpRequest) -> HttpResponse:
    """Ask for a link by email address; the answer is the same whether or not the address has an account."""
    form = ResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password_reset.password_reset_request(email=form.cleaned_data["email"], ip=client_ip(request))
        return redirect("password_reset_sent")
    return render(request, "issuer/password_reset/request.html", {"form": form})


@require_GET
def password_reset_sent_page(request: HttpRequest) -> HttpResponse:
    return render(request, "issuer/password_reset/sent.html", {"minutes": _minutes()})


@never_cache
@require_GET
def password_reset_link_page(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: check it, keep its token in the session, continue at a URL without it.

    Only the answers at the token's URL say `Referrer-Policy: no-referrer`, so not even this site's own
    stylesheet request carries the token in Referer. The form pages keep the site's `same-origin`: with
    `no-referrer` there, Chromium sends `Origin: null` with the POST and Django's CSRF check refuses it."""
    try:
        password_reset.password_reset_token_check(raw_token=token)
    except password_reset.ResetLinkInvalid as e:
        response = _invalid(request, e)
    else:
        request.session[SESSION_KEY] = token
        response = redirect("password_reset_set")
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_set_page(request: HttpRequest) -> HttpResponse:
    """Choose the new password (Django's validators); on success every session of the person ends."""
    raw_token = request.session.get(SESSION_KEY, "")
    try:
        grant = password_reset.password_reset_token_check(raw_token=raw_token)
    except password_reset.ResetLinkInvalid as e:
        return _invalid(request, e)
    form = SetPasswordForm(grant.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_reset.password_reset_complete(
                raw_token=raw_token, new_password=form.cleaned_data["new_password1"], ip=client_ip(request)
            )
        except password_reset.ResetLinkInvalid as e:
            return _invalid(request, e)
        except ValidationError as e:
            form.add_error("new_password1", e)
        else:
            request.session.pop(SESSION_KEY, None)
            return redirect("password_reset_done")
    return render(request, "issuer/password_reset/set.html", {"form": form, "username": grant.user.get_username()})


@require_GET
def password_reset_done_page(request: HttpRequest) -> HttpResponse:
    return render(request, "issuer/password_reset/done.html")


class PasswordResetRequestView(PublicAPIView):
    """POST {email}: 202 whether or not the address has an account."""

    def post(self, request: Request) -> Response:
        serializer = PasswordResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_reset.password_reset_request(email=serializer.validated_data["email"], ip=client_ip(request))
        return Response({"detail": messages.RESET_SENT}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(PublicAPIView):
    """POST {token, new_password}: set the password once with the token from the emailed link."""

    def post(self, request: Request) -> Response:
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            password_reset.password_reset_complete(
                raw_token=data["token"], new_password=data["new_password"], ip=client_ip(request)
            )
        except password_reset.ResetLinkInvalid as e:
            logger.info("auth event=password_reset_link_refused reason=%s", e.reason)
            raise exceptions.ValidationError(
                {"detail": messages.RESET_LINK_INVALID, "code": "reset_link_invalid"}
            ) from e
        except ValidationError as e:
            raise exceptions.ValidationError({"new_password": list(e.messages)}) from e
        return Response({"detail": "Password changed; every session of this account has been signed out."})
