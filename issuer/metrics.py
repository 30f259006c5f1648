"""The issuer's Prometheus metrics (webguard.metrics serves them): sign-ins, refreshes and their reuse,
throttled attempts, tokens issued, sessions revoked, back-channel logout deliveries, and, computed at scrape
from the database, the signing keys by state."""

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric

from .models import SigningKey

logger = logging.getLogger(__name__)

SIGN_INS = Counter(
    "sso_issuer_sign_ins_total", "Password sign-ins, by outcome (ok, invalid_credentials, throttled).", ["outcome"]
)
REFRESHES = Counter(
    "sso_issuer_refreshes_total", "Refresh-token exchanges, by outcome (ok, rejected: reuse included).", ["outcome"]
)
REFRESH_REUSE = Counter(
    "sso_issuer_refresh_reuse_detected_total", "Rotated refresh tokens presented again: the session was revoked."
)
THROTTLED = Counter(
    "sso_issuer_throttled_attempts_total", "Attempts refused by a throttle, by scope (login-username, ...).", ["scope"]
)
TOKENS_ISSUED = Counter(
    "sso_issuer_tokens_issued_total", "Tokens signed, by kind (access, refresh, service).", ["kind"]
)
SESSIONS_REVOKED = Counter("sso_issuer_sessions_revoked_total", "SSO sessions ended, by reason.", ["reason"])
BACKCHANNEL_DELIVERIES = Counter(
    "sso_issuer_backchannel_deliveries_total",
    "Back-channel logout tokens sent to relying apps, by outcome.",
    ["outcome"],
)


class SigningKeysCollector:
    """The signing keys by state (active, retiring, retired), one grouped query per scrape. Left out when the
    database does not answer: /readyz says so, and a scrape must not fail with it."""

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("sso_issuer_signing_keys", "Signing keys, by state.", labels=["state"])
        try:
            counts = dict(SigningKey.objects.values_list("state").annotate(count=Count("id")).order_by())
        except DatabaseError as e:
            logger.warning("operations event=metrics_signing_keys_unavailable error=%s", type(e).__name__)
            return
        for state in SigningKey.State.values:
            gauge.add_metric([state], counts.get(state, 0))
        yield gauge
