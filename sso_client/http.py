"""Fetching JSON from the issuer, with the hygiene that untrusted networks demand: only the configured
issuer, only http(s), no redirects (to any host), a timeout on connecting and on every read, a deadline
for the whole body, and a size limit on the body as decoded (so a compressed bomb is cut off too)."""

import json
import logging
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from . import clock
from .conf import issuer_fetch_base, sso_settings
from .request_ids import outgoing_headers

logger = logging.getLogger(__name__)

CHUNK_BYTES = 16384


class FetchError(Exception):
    """The issuer could not be reached, or answered with something other than a small JSON object. `status` is
    the HTTP status of an answer that was not 200 (None when there was no answer); `body` its JSON object, if any
    (an OAuth error: {"error": ...})."""

    def __init__(self, message: str, *, status: int | None = None, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as e:  # a port that is not a number, or out of range
        raise FetchError("malformed URL") from e
    return parts.scheme, parts.hostname, port


def _same_origin(url: str, base: str) -> bool:
    return _origin(url) == _origin(base)


def issuer_url(public_url: Any) -> str:
    """Map a URL the issuer published (in discovery) onto where this process reaches the issuer, and
    refuse any other: a tampered discovery document must not point this app at another host."""
    public_base = sso_settings()["ISSUER"].rstrip("/")
    if not isinstance(public_url, str) or not public_url.startswith(public_base + "/"):
        raise FetchError("URL is not under the issuer's URL")
    return issuer_fetch_base() + public_url[len(public_base) :]


def fetch_json(url: str, *, max_bytes: int | None = None, auth: tuple[str, str] | None = None) -> dict[str, Any]:
    """GET a JSON object from the issuer, or raise FetchError. Never follows a redirect: a 3xx is an error.
    At most `max_bytes` of body (HTTP_MAX_BYTES by default); `auth`: HTTP Basic client credentials."""
    return _issuer_json("GET", url, max_bytes=max_bytes, auth=auth)


def post_json(url: str, *, body: dict[str, Any]) -> dict[str, Any]:
    """POST a JSON object to the issuer and read its JSON answer, with the same hygiene as fetch_json."""
    return _issuer_json("POST", url, json=body)


def post_form(url: str, *, data: dict[str, str], auth: tuple[str, str]) -> dict[str, Any]:
    """POST a form (RFC 6749's token endpoint) with HTTP Basic client credentials, same hygiene as fetch_json.
    An error answer's JSON object (`{"error": ...}`) is kept on the FetchError."""
    return _issuer_json("POST", url, data=data, auth=auth)


def _issuer_json(method: str, url: str, *, max_bytes: int | None = None, **send: Any) -> dict[str, Any]:
    conf = sso_settings()
    if urlsplit(url).scheme not in ("http", "https") or not _same_origin(url, issuer_fetch_base()):
        raise FetchError("refusing to fetch outside the configured issuer")
    limit = max_bytes or conf["HTTP_MAX_BYTES"]
    timeout = conf["HTTP_TIMEOUT_SECONDS"]
    deadline = clock.monotonic() + timeout
    received = bytearray()
    try:
        with requests.request(
            method,
            url,
            **send,
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
            headers={"Accept": "application/json", **outgoing_headers()},  # the request id goes on to the issuer
        ) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchError("response too large")
            # read1 returns what one read of the socket brings (at most CHUNK_BYTES once decoded), so the
            # deadline is checked often even against a server that drips its body a byte at a time.
            while chunk := response.raw.read1(CHUNK_BYTES, decode_content=True):
                received += chunk
                if len(received) > limit:
                    raise FetchError("response too large")
                if clock.monotonic() > deadline:
                    raise FetchError("response too slow")
            status = response.status_code
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
        raise FetchError(type(e).__name__) from e
    try:
        data = json.loads(received)
    except (ValueError, RecursionError):  # RecursionError: hostile nesting
        data = None
    if status != 200:
        raise FetchError(f"HTTP {status}", status=status, body=data if isinstance(data, dict) else None)
    if not isinstance(data, dict):
        raise FetchError("response is not a JSON object")
    return data
