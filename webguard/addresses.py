"""The caller's address as every site counts it (the issuer's throttles, who may read /metrics), proxies taken
into account."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address. X-Forwarded-For is trusted only for the number of proxies the deployment
    declares (SSO_TRUSTED_PROXY_COUNT), counted from the right, so a client cannot spoof its own address."""
    proxies = settings.SSO_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None
