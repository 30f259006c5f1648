"""The operations endpoints on every site, answered before URL routing so that each site's urls.py stays
its own: `/healthz`, `/readyz` (webguard.health) and `/metrics` (webguard.metrics). GET and HEAD only."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase, HttpResponseNotAllowed

from . import health, metrics

ENDPOINTS: dict[str, Callable[[HttpRequest], HttpResponseBase]] = {
    "/healthz": health.healthz,
    "/readyz": health.readyz,
    "/metrics": metrics.metrics_view,
}
# settings.base exempts these paths from the HTTPS redirect (SECURE_REDIRECT_EXEMPT).


class OperationsMiddleware:
    """Answers the operations endpoints; every other path goes on to the site."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        endpoint = ENDPOINTS.get(request.path_info)
        if endpoint is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return endpoint(request)
