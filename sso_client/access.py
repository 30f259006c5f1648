"""Who may see a plain Django view (with sso_client.middleware): decorators and class-based-view mixins for
signed-in people, issuer roles and token scopes. DRF views use sso_client.permissions instead.

Not signed in: a browser page load is sent to sign in (sso_client.browser.sign_in_url: the issuer, or this
site's own sign-in in any-domain mode) and comes back; anything else gets 401 with `WWW-Authenticate:
Bearer`. Signed in without the role or scope: 403."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse

from .browser import sign_in_url
from .conf import sso_settings

View = Callable[..., HttpResponse]


def _not_signed_in(request: HttpRequest) -> HttpResponse:
    if request.method in ("GET", "HEAD") and "text/html" in request.headers.get("Accept", ""):
        response: HttpResponse = HttpResponseRedirect(sign_in_url(request))
    else:
        response = JsonResponse(
            {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"}, status=401
        )
        response["WWW-Authenticate"] = f'Bearer realm="{sso_settings()["AUDIENCE"]}"'
    response["Cache-Control"] = "no-store"
    return response


def _token_scopes(request: HttpRequest) -> set[str]:
    token = getattr(request, "sso_token", None)
    scope = token.claims.get("scope", "") if token is not None else ""
    return set(scope.split()) if isinstance(scope, str) else set()


def _has_role(request: HttpRequest, role: str) -> bool:
    sso_user = getattr(request, "sso_user", None)
    return sso_user is not None and sso_user.has_role(role)


def _guarded(lets_in: Callable[[HttpRequest], bool]) -> Callable[[View], View]:
    """A decorator: signed in first, then `lets_in(request)`, else 403."""

    def decorator(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refusal = access_refusal(request, lets_in)
            return refusal if refusal is not None else view(request, *args, **kwargs)

        return guarded

    return decorator


def access_refusal(request: HttpRequest, lets_in: Callable[[HttpRequest], bool]) -> HttpResponse | None:
    """The answer refusing this request (sign in, or PermissionDenied raised), or None to let it in."""
    if not request.user.is_authenticated:
        return _not_signed_in(request)
    if not lets_in(request):
        raise PermissionDenied
    return None


sso_login_required = _guarded(lambda request: True)
sso_login_required.__doc__ = "Signed-in people only (a valid access token)."


def role_required(role: str) -> Callable[[View], View]:
    """People whose token carries the issuer role `role`."""
    return _guarded(lambda request: _has_role(request, role))


def scope_required(scope: str) -> Callable[[View], View]:
    """Tokens granted `scope` (an OpenID Connect client's access token carries its `scope`)."""
    return _guarded(lambda request: scope in _token_scopes(request))


class SSOLoginRequiredMixin:
    """Class-based views: signed-in people only. Subclasses narrow it with `lets_in`."""

    def lets_in(self, request: HttpRequest) -> bool:
        return True

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refusal = access_refusal(request, self.lets_in)
        return refusal if refusal is not None else super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class RoleRequiredMixin(SSOLoginRequiredMixin):
    """Class-based views: people whose token carries `required_role`."""

    required_role = ""

    def lets_in(self, request: HttpRequest) -> bool:
        return _has_role(request, self.required_role)


class ScopeRequiredMixin(SSOLoginRequiredMixin):
    """Class-based views: tokens granted `required_scope`."""

    required_scope = ""

    def lets_in(self, request: HttpRequest) -> bool:
        return self.required_scope in _token_scopes(request)
