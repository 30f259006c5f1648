"""Fetching JSON from the issuer, with the hygiene that untrusted networks demand: only the configured
issuer, only http(s), no redirects, a timeout and a size limit."""

import json
import logging
from typing import Any
from urllib.parse import urlsplit

import requests

from .conf import issuer_fetch_base, sso_settings

logger = logging.getLogger(__name__)


class FetchError(Exception):
    """The issuer could not be reached, or answered with something other than a small JSON object."""


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def issuer_url(public_url: str) -> str:
    """Map a URL the issuer published (in discovery) onto where this process reaches the issuer, and
    refuse any other: a tampered discovery document must not point this app at another host."""
    public_base = sso_settings()["ISSUER"].rstrip("/")
    if not public_url.startswith(public_base + "/"):
        raise FetchError("URL is not under the issuer's URL")
    return issuer_fetch_base() + public_url[len(public_base) :]


def fetch_json(url: str) -> dict[str, Any]:
    conf = sso_settings()
    if urlsplit(url).scheme not in ("http", "https") or not _same_origin(url, issuer_fetch_base()):
        raise FetchError("refusing to fetch outside the configured issuer")
    limit = conf["HTTP_MAX_BYTES"]
    try:
        with requests.get(
            url,
            timeout=conf["HTTP_TIMEOUT_SECONDS"],
            allow_redirects=False,
            stream=True,
            headers={"Accept": "application/json"},
        ) as response:
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code}")
            body = b""
            for chunk in response.iter_content(chunk_size=16384):
                body += chunk
                if len(body) > limit:
                    raise FetchError("response too large")
    except requests.RequestException as e:
        raise FetchError(type(e).__name__) from e
    try:
        data = json.loads(body)
    except ValueError as e:
        raise FetchError("response is not JSON") from e
    if not isinstance(data, dict):
        raise FetchError("response is not a JSON object")
    return data
