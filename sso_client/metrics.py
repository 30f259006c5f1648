"""The relying app's Prometheus metrics (webguard.metrics serves them): what the verifier accepted and refused,
how its fetches from the issuer went, and, computed at scrape from what this process holds, how old its copies
of the issuer's keys and revocation list are and how full its verified-token cache is."""

from collections.abc import Iterator

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric

from . import clock

TOKENS_VERIFIED = Counter(
    "sso_client_tokens_verified_total",
    "Access tokens accepted: checked in full (cold) or found in the verified cache (cached).",
    ["path"],
)
# Bound once: `labels()` takes a lock and a lookup, a few microseconds on every verification otherwise.
VERIFIED_COLD = TOKENS_VERIFIED.labels(path="cold")
VERIFIED_CACHED = TOKENS_VERIFIED.labels(path="cached")
TOKENS_REJECTED = Counter("sso_client_tokens_rejected_total", "Tokens refused, by reason.", ["reason"])
JWKS_FETCHES = Counter("sso_client_jwks_fetches_total", "JWKS fetches from the issuer, by outcome.", ["outcome"])
REVOCATION_FETCHES = Counter(
    "sso_client_revocation_fetches_total", "Revocation-list fetches from the issuer, by outcome.", ["outcome"]
)

# The refusal reasons the verifiers give (sso_client.verify, sso_client.service). A label is one of these or
# "other", never text from the token: a label per made-up value would let a forger grow the metrics without bound.
REJECTION_REASONS = frozenset(
    {
        "malformed",
        "malformed claims",
        "algorithm not allowed",
        "missing or malformed kid",
        "unsupported critical header",
        "unknown kid",
        "expired",
        "not yet valid",
        "wrong audience",
        "wrong issuer",
        "wrong token type",
        "bad signature",
        "invalid",
        "token too large",
        "session revoked",
        "session ended by back-channel logout",
        "signing key no longer published",
    }
)


def rejection_reason(reason: str) -> str:
    """The label for a refusal's reason ("missing claim sid" counts as "missing claim")."""
    if reason.startswith("missing claim"):
        return "missing claim"
    return reason if reason in REJECTION_REASONS else "other"


def token_rejected(reason: str) -> None:
    TOKENS_REJECTED.labels(reason=rejection_reason(reason)).inc()


class IssuerStateCollector:
    """Scrape-time gauges from this process's copies (sso_client.state): their ages, and the verified cache's size.
    An age is left out until the copy was first fetched."""

    def collect(self) -> Iterator[Metric]:
        # Imported here: the verifier and the copies import this module for its counters.
        from .state import issuer_state
        from .verify import verified_cache

        now = clock.now()
        copies = (
            (
                "sso_client_revocation_list_age_seconds",
                "Age of the revocation list this process holds.",
                issuer_state.revocations,
            ),
            ("sso_client_jwks_age_seconds", "Age of the JWKS copy this process holds.", issuer_state.jwks),
        )
        for name, documentation, copy in copies:
            gauge = GaugeMetricFamily(name, documentation)
            if copy.fetched_at:
                gauge.add_metric([], max(0.0, now - copy.fetched_at))
            yield gauge
        keys = GaugeMetricFamily("sso_client_jwks_keys", "Signing keys in the JWKS copy this process holds.")
        keys.add_metric([], len(issuer_state.jwks.keys))
        yield keys
        size = GaugeMetricFamily("sso_client_verified_cache_entries", "Tokens in this process's verified cache.")
        size.add_metric([], len(verified_cache._entries))  # a read of one dict's size, no lock needed
        yield size
