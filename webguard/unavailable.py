"""A database that cannot be reached answers 503 with Retry-After, never a 500 with a traceback.

The database error reaches here from any view (DRF re-raises what its handler does not know) through
process_exception, and from any middleware inside this one (a session saved, the admin session checked)
through Django's got_request_exception signal: Django turns a middleware's exception into a 500 before this
middleware sees it, so the signal marks the request and the 500 is replaced (and OutageAlreadyLogged keeps
Django's request log from writing that 500's traceback). The answer is generic (JSON for API clients, a short
page for browsers), and the outage is logged once per interval (sso_client.outages), not once per request.
Recovery needs nothing from here: Django drops a connection that failed at the end of its request, and
CONN_HEALTH_CHECKS (settings.base) checks a pooled one before reuse."""

import logging
import sys
from collections.abc import Callable
from html import escape

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from sso_client.outages import OutageLog

from .security import refusal

logger = logging.getLogger(__name__)

# What a client is told to wait: a restarted or failed-over database is usually back within seconds.
RETRY_AFTER_SECONDS = 5
DETAIL = "The service is temporarily unavailable. Try again shortly."

outage = OutageLog(logger, "database")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Temporarily unavailable</title></head>
<body><h1>Temporarily unavailable</h1><p>{site} cannot answer right now. Try again in a few seconds.</p></body>
</html>"""


def wants_html(request: HttpRequest) -> bool:
    """A browser navigating (not an API client, not script): it gets a page rather than JSON."""
    return "text/html" in request.META.get("HTTP_ACCEPT", "")


def unavailable_response(request: HttpRequest) -> HttpResponse:
    if wants_html(request):
        response = HttpResponse(PAGE.format(site=escape(settings.SITE_NAME)), status=503)
    else:
        response = refusal(503, DETAIL, "service_unavailable")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # Made outside the middleware that adds it to every other answer.
    response["Cache-Control"] = "no-store"
    # Logged here, once per interval: Django's request log would add a line per request.
    response._has_been_logged = True
    return response


# OperationalError: refused, dropped, shut down, timed out, a deadlock (worth a retry too);
# InterfaceError: a connection already closed under the request.
UNAVAILABLE = (OperationalError, InterfaceError)
MARK = "_sso_database_unavailable"


@receiver(got_request_exception)
def _mark_database_unavailable(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    # Sent while Django handles an exception that no process_exception answered (sys.exc_info() is it).
    exception = sys.exc_info()[1]
    if request is not None and isinstance(exception, UNAVAILABLE):
        setattr(request, MARK, exception)


class OutageAlreadyLogged(logging.Filter):
    """On Django's request log (settings.base LOGGING): drops the 500 line, traceback and all, that Django
    writes for a middleware's database error, since the client gets a 503 and the outage is logged once per
    interval instead. Every other error is logged as before."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(getattr(record, "request", None), MARK, None) is None


class DatabaseUnavailableMiddleware:
    """Turns a database that cannot be reached (or broke the connection) into a 503. Placed outside every
    middleware that may touch the database, so their failures are caught too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        failed = getattr(request, MARK, None)
        if failed is not None and response.status_code >= 500:
            outage.failed(failed)
            return unavailable_response(request)
        if outage.is_down and response.status_code < 500:
            outage.ok()
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UNAVAILABLE):
            return None
        outage.failed(exception)
        return unavailable_response(request)
