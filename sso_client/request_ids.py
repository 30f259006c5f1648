"""The id of the request being served, carried on this site's calls to the issuer and other services
(X-Request-ID), so one sign-in can be followed across sites. A site's middleware sets it (this repository's
webguard.request_id does, from a well-formed incoming header or a new id); without one, calls carry none."""

import contextvars

HEADER = "X-Request-ID"

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _current.get()


def current_request_id_set(request_id: str | None) -> None:
    _current.set(request_id)


def outgoing_headers() -> dict[str, str]:
    """The header that carries this request's id to the site it calls (none outside a request)."""
    request_id = _current.get()
    return {HEADER: request_id} if request_id else {}
