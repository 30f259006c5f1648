"""The small endpoints every relying app serves: who the presented token says you are, a ping that takes
no credentials at all (a health check, and the benchmark's baseline for the cost of authentication), and
the app's home page."""

from typing import Any

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .authentication import SSOAuthentication
from .pages import issuer_home, other_apps, page_context, site_name
from .permissions import IsSSOAuthenticated


class WhoAmIView(APIView):
    """GET: the user the token names, as this app sees it; no valid token means 401. Its own authentication
    and permission classes, not the site's DRF defaults: a stock site's (session and basic authentication,
    AllowAny) would let an anonymous request through to a user with no `sub`."""

    authentication_classes = [SSOAuthentication]
    permission_classes = [IsSSOAuthenticated]

    def get(self, request: Request) -> Response:
        user = request.user
        return Response({"sub": user.sub, "username": user.username, "roles": list(user.roles)})


class PingView(APIView):
    """GET: a constant. No authentication class runs, so any credentials sent are ignored."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """The relying pages' icon (resolved per request: in production its name carries a content hash)."""
    return HttpResponsePermanentRedirect(static("sso_client/favicon.svg"))


class AppHomeRenderer(TemplateHTMLRenderer):
    """The app's home as a page in the issuer's look, with the relying pages' bar."""

    template_name = "sso_client/root.html"

    def get_template_context(self, data: Any, renderer_context: dict[str, Any]) -> dict[str, Any]:
        return {**super().get_template_context(data, renderer_context), **page_context(renderer_context["request"])}


class AppHomeView(APIView):
    """GET: what this app is, who you are here, its resources, your other apps and the issuer; a page in a
    browser, the same as JSON for a script. Each app's urls.py gives `name`, `description` and `resources`
    ((title, URL name, what it is) triples)."""

    renderer_classes = [JSONRenderer, AppHomeRenderer]
    name = ""
    description = ""
    resources: tuple[tuple[str, str, str], ...] = ()

    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {
                "app": site_name(),
                "name": self.name,
                "about": self.description,
                "you": {"username": user.username, "sub": user.sub, "roles": list(user.roles), "staff": user.is_staff},
                "resources": [
                    {"name": title, "url": request.build_absolute_uri(reverse(url_name)), "about": about}
                    for title, url_name, about in self.resources
                ],
                "apps": other_apps(user),
                "issuer": issuer_home(),
            }
        )
