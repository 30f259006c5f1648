"""Middleware for the issuer's own pages: a staff admin session ends when its SSO session ends."""

from collections.abc import Callable

from django.contrib import auth
from django.http import HttpRequest, HttpResponse

from .selectors import session_is_live
from .views.pages import SESSION_SID_KEY


class AdminSessionFollowsSSOSessionMiddleware:
    """A staff member's admin session (Django's session, started by the SSO login page) ends when the SSO
    session it was started with ends: log out, "log out everywhere", an admin's revoke, deactivation or a
    refresh-token replay. Otherwise a stolen admin cookie would outlive the response to the theft."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        sid = session.get(SESSION_SID_KEY) if session is not None else None
        if sid and not session_is_live(sid=sid):
            auth.logout(request)
        return self.get_response(request)
