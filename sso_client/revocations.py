"""The issuer's revocation list at a relying process: the copy of revoked sessions and its refetch rules.

The list lives in the Django cache, shared by every process of the site, and is copied into process memory.
It is refetched as soon as it is REVOCATION_REFRESH_SECONDS old, by one process per site per interval; on
failure the last good list stays in force and the staleness is logged."""

import logging
from typing import Any

from django.core.cache import cache

from . import clock, http, metrics
from .conf import issuer_fetch_base, sso_settings
from .fetch_claims import window_claim
from .http import FetchError

logger = logging.getLogger(__name__)

REVOKED_KEY = "sso_client:revoked"


class RevocationListCopy:
    """This process's copy of the revoked session ids, and the published kids the list names."""

    def __init__(self) -> None:
        self.sids: frozenset[str] = frozenset()
        self.fetched_at = 0.0
        # The published kids named by the revocation list this process holds (None: not named).
        self.kids: frozenset[str] | None = None
        self._failing_since: float | None = None
        self._unclaimed_fetch_at: float | None = None

    def is_revoked(self, sid: str) -> bool:
        return sid in self.sids

    def seconds_until_due(self) -> float:
        """How long until the list this process holds is REVOCATION_REFRESH_SECONDS old (negative: overdue)."""
        return self.fetched_at + sso_settings()["REVOCATION_REFRESH_SECONDS"] - clock.now()

    def refresh(self) -> None:
        interval = sso_settings()["REVOCATION_REFRESH_SECONDS"]
        entry = cache.get(REVOKED_KEY)
        fresh = entry is not None and clock.now() - entry["fetched_at"] < interval
        # A process that has never held a list and finds none in the shared cache (a cold start, or the
        # entry evicted) fetches whatever the claim says: waiting for another process's fetch would leave it
        # accepting every revoked session meanwhile. At most once per interval per process, so an issuer
        # that is down is not asked ten times a second by every process.
        never_held = entry is None and self.fetched_at == 0.0
        unclaimed_due = never_held and (
            self._unclaimed_fetch_at is None or clock.now() - self._unclaimed_fetch_at >= interval
        )
        # Only one process per site calls the issuer per interval; the others read its result.
        claimed = not fresh and window_claim("sso_client:revoked-fetch", interval) is not None
        if not fresh and (claimed or unclaimed_due):
            if not claimed:
                self._unclaimed_fetch_at = clock.now()
            entry = self._fetch(entry)
        if entry is not None and entry["fetched_at"] != self.fetched_at:
            self.sids = frozenset(entry["sids"])
            self.fetched_at = entry["fetched_at"]
            kids = entry.get("kids")
            self.kids = frozenset(kids) if kids is not None else None

    def _fetch(self, entry: dict[str, Any] | None) -> dict[str, Any] | None:
        """The list fetched from the issuer and put in the shared cache, or `entry` (the last good one)."""
        try:
            body = http.fetch_json(
                issuer_fetch_base() + "/api/revocations/", max_bytes=sso_settings()["REVOCATION_MAX_BYTES"]
            )
            sids = body["revoked_sids"]
            if not _is_list_of_str(sids):
                raise FetchError("malformed revocation list")
            kids = body.get("kids")
        except (FetchError, KeyError, TypeError) as e:
            metrics.REVOCATION_FETCHES.labels(outcome="failed").inc()
            self._failed(entry, e)
            return entry
        entry = {"sids": sids, "kids": kids if _is_list_of_str(kids) else None, "fetched_at": clock.now()}
        cache.set(REVOKED_KEY, entry, timeout=None)
        metrics.REVOCATION_FETCHES.labels(outcome="ok").inc()
        if self._failing_since is not None:
            logger.info(
                "sso_client event=revocations_recovered stale_for_seconds=%.1f",
                clock.now() - self._failing_since,
            )
            self._failing_since = None
        return entry

    def _failed(self, entry: dict[str, Any] | None, error: Exception) -> None:
        if self._failing_since is None:
            self._failing_since = clock.now()
        # The last good list stays in force. Revocations made since it was fetched are not seen here
        # until the issuer answers again: that is what "stale" means, and why it is logged every time.
        age = f"{clock.now() - entry['fetched_at']:.1f}" if entry else "never_fetched"
        logger.warning(
            "sso_client event=revocations_fetch_failed error=%s serving=last_good stale_seconds=%s revoked=%d",
            error,
            age,
            len(entry["sids"]) if entry else 0,
        )


def _is_list_of_str(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
