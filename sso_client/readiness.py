"""The relying app's readiness check (webguard.health, SSO_READINESS_CHECKS): it can verify tokens, that is it
holds the issuer's signing keys and a revocation list younger than SSO_READY_MAX_REVOCATION_AGE_SECONDS.

A process loads both on its first request; the first probe of a fresh process does the same (one load, as
`make run`'s first request would), so a site behind a load balancer that sends no traffic before it is ready
still becomes ready. After that the probe reads what the background refresher keeps fresh."""

from django.conf import settings

from . import clock
from .state import issuer_state

DEFAULT_MAX_REVOCATION_AGE_SECONDS = 30


def issuer_state_ready() -> str | None:
    """None when this process can verify with fresh revocations, else what is missing."""
    issuer_state.ensure_started()
    if not issuer_state.jwks.keys:
        return "signing keys not loaded"
    limit = getattr(settings, "SSO_READY_MAX_REVOCATION_AGE_SECONDS", DEFAULT_MAX_REVOCATION_AGE_SECONDS)
    fetched_at = issuer_state.revocations.fetched_at
    if not fetched_at or clock.now() - fetched_at > limit:
        return "revocation list stale"
    return None
