"""Prometheus metrics every site shares, and `/metrics` itself: what a scrape reads and who may read it.

Counters live in prometheus-client's registry. Under gunicorn each worker is its own process, so
gunicorn.conf.py turns on prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR): every worker
writes its counts to its own file there and a scrape, whichever worker answers it, sums the files of all
of them (a dead worker's counts stay in the sum, as a counter must). Without that variable (runserver, tests,
`manage.py` commands) a process's own registry is read. Gauges are computed at scrape by the worker that
answers (SSO_METRICS_COLLECTORS: the site's collectors, e.g. the age of its revocation list), from what that
worker holds; nothing is fetched for a scrape."""

import hmac
import ipaddress
import os
from functools import cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from .addresses import client_ip

# No `*_created` series beside each counter: they double what a scrape carries and no alert here reads them.
disable_created_metrics()

HTTP_RESPONSES = Counter(
    "sso_http_responses_total", "Responses this site sent, by status class (2xx, 3xx, 4xx, 5xx).", ["status"]
)

# Loopback: where `make run` and a developer's scraper are; open there in dev only.
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@cache
def _site_collectors() -> tuple:
    """The site's scrape-time collectors, made once per process (SSO_METRICS_COLLECTORS)."""
    return tuple(import_string(path)() for path in settings.SSO_METRICS_COLLECTORS)


def scrape_registry() -> CollectorRegistry:
    """What a scrape reads: every worker's counters (multiprocess mode) or this process's, plus the site's
    scrape-time gauges."""
    registry = CollectorRegistry()
    # The library's own switch (set by gunicorn.conf.py, not a setting of this project), read as it reads it.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessRegistry())
    for collector in _site_collectors():
        registry.register(collector)
    return registry


class _ProcessRegistry:
    """The process's default registry as one collector of a scrape's registry."""

    def collect(self):  # noqa: ANN201  (prometheus-client's collector protocol)
        return REGISTRY.collect()


def _address_allowed(request: HttpRequest) -> bool:
    address = client_ip(request)
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    networks = [*settings.SSO_METRICS_ALLOWED_NETWORKS, *(() if settings.HTTPS else LOOPBACK)]
    return any(ip in network for network in networks)


def _token_presented(request: HttpRequest) -> bool:
    expected = settings.SSO_METRICS_TOKEN
    scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    # Constant time: a comparison that stops at the first wrong byte would let a caller guess the token
    # byte by byte from response times.
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


def operator_allowed(request: HttpRequest) -> bool:
    """Whether the caller may read metrics and readiness details: the metrics token, or an address in
    SSO_METRICS_ALLOWED_NETWORKS (as issuer.http's rule sees it behind trusted proxies), or loopback in dev."""
    return _token_presented(request) or _address_allowed(request)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text format, to operators only. Anyone else gets the 404 of a page that does not exist:
    a refusal would tell a scanner that something is there."""
    if not operator_allowed(request):
        raise Http404
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_PLAIN_0_0_4)
