"""Request ids: one id per request, taken from a well-formed X-Request-ID or generated, on every log line the
request causes (a contextvar read by a logging filter), echoed in the response and sent on with the calls this
site makes to the others, so one sign-in can be followed across the issuer and the relying apps."""

import logging
import re
import uuid
from collections.abc import Callable

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

from sso_client.request_ids import HEADER, current_request_id, current_request_id_set, outgoing_headers

from . import metrics

__all__ = ["HEADER", "RequestIdFilter", "RequestIdMiddleware", "current_request_id", "outgoing_headers"]
# What a caller's id may look like: a proxy's or another site's id (UUIDs, hex, base64url) passes; anything
# longer, or with spaces, quotes or control characters, could forge or break a log line, so it is replaced.
WELL_FORMED = re.compile(r"[A-Za-z0-9._:@+/=-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The caller's id when it is well-formed, else a new one."""
    if header and WELL_FORMED.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Gives every record a `request_id` ("-" outside a request); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


class RequestIdMiddleware:
    """Outermost: sets the request's id for everything inside it, echoes it in the response, and counts the
    response by status class (what a 5xx alert reads), whichever layer answered."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        # Cleared when the response is closed (below), not here: Django logs a refused request's line
        # ("Not Found: ...") after the middleware has returned, and that line belongs to the request too.
        current_request_id_set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        metrics.HTTP_RESPONSES.labels(status=f"{response.status_code // 100}xx").inc()
        return response


@receiver(request_finished)
def _request_id_clear(**kwargs) -> None:
    current_request_id_set(None)
