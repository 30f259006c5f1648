"""Web defences every site shares (the issuer and each relying app), as middleware: security headers on
every response, a request-size limit answered with 413, and CORS preflights from unlisted origins refused."""

import functools
from collections.abc import Callable
from urllib.parse import SplitResult

from corsheaders import middleware as cors
from corsheaders.conf import conf as cors_conf
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.utils.module_loading import import_string


def refusal(status: int, detail: str, code: str) -> JsonResponse:
    """The same generic body the API's own errors have ({"detail", "code"})."""
    return JsonResponse({"detail": detail, "code": code}, status=status)


class SecurityHeadersMiddleware:
    """Adds the headers Django's SecurityMiddleware does not: a Content-Security-Policy (no inline or foreign
    script, no framing, forms and calls only to the configured sites), a Permissions-Policy, and
    `Cache-Control: no-store` on whatever did not choose its own caching (token responses, error pages).
    A response that sets one of these keeps its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.headers = {
            "Content-Security-Policy": settings.SSO_CONTENT_SECURITY_POLICY,
            "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
            "Cache-Control": "no-store",
        }
        # A site whose forms lead to origins known only at run time (the issuer: its registered OpenID Connect
        # clients, where a sign-in or a sign-out redirects) names a function returning them, asked per page.
        extra = getattr(settings, "SSO_CSP_FORM_ACTION_ORIGINS", "")
        self.form_action_origins: Callable[[], frozenset[str]] | None = import_string(extra) if extra else None

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        headers = self.headers
        # Only a page can hold a form; an API answer keeps the fixed policy without asking.
        if self.form_action_origins is not None and response.get("Content-Type", "").startswith("text/html"):
            headers = {
                **headers,
                "Content-Security-Policy": _with_form_action(
                    headers["Content-Security-Policy"], self.form_action_origins()
                ),
            }
        for name, value in headers.items():
            if value and name not in response:
                response[name] = value
        return response


@functools.lru_cache(maxsize=8)
def _with_form_action(policy: str, origins: frozenset[str]) -> str:
    """`policy` with `origins` added to its form-action directive. Chromium applies form-action to every
    redirect that follows a form's submission, so a sign-in form whose answer redirects to a client on another
    origin is blocked unless that origin is listed."""
    directives = [
        f"{directive} {' '.join(sorted(origins))}" if directive.startswith("form-action ") and origins else directive
        for directive in policy.split("; ")
    ]
    return "; ".join(directives)


class RequestSizeLimitMiddleware:
    """Refuses a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before anything reads it.

    Django applies that limit only where it reads a body into memory itself (and answers 400); DRF's JSON
    parser reads the stream directly, so without this a megabytes-long JSON body would be parsed whole."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return refusal(400, "Malformed request.", "bad_request")
        if length < 0:
            return refusal(400, "Malformed request.", "bad_request")
        if limit is not None and length > limit:
            return refusal(413, "Request body too large.", "request_too_large")
        return self.get_response(request)


class CorsMiddleware(cors.CorsMiddleware):
    """django-cors-headers with three changes. An origin is allowed only when it is, character for character,
    one on the allowlist (the library compares parsed scheme and host, so `https://sso.example.com/` with a
    trailing slash would pass). A site whose script callers are known only at run time (the issuer: its
    registered first-party clients) names a function returning them in SSO_CORS_EXTRA_ORIGINS, asked only
    when an origin is not on the fixed list. A preflight from any other origin gets 403 instead of an empty
    200 without CORS headers: the browser would refuse either, and this makes the refusal explicit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        super().__init__(get_response)
        extra = getattr(settings, "SSO_CORS_EXTRA_ORIGINS", "")
        self.extra_origins: Callable[[], frozenset[str]] | None = import_string(extra) if extra else None

    def origin_found_in_white_lists(self, origin: str, url: SplitResult) -> bool:
        if origin in cors_conf.CORS_ALLOWED_ORIGINS:
            return True
        return self.extra_origins is not None and origin in self.extra_origins()

    def check_preflight(self, request: HttpRequest) -> HttpResponseBase | None:
        response = super().check_preflight(request)
        if response is None:
            return None
        self.add_response_headers(request, response)
        if cors.ACCESS_CONTROL_ALLOW_ORIGIN not in response:
            refused = refusal(403, "Cross-origin request refused.", "cors_origin_not_allowed")
            refused["Vary"] = "origin"
            return refused
        return response
