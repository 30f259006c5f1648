"""What a relying process knows about the issuer: its signing keys (JWKS) and its revoked sessions.

Both live in the Django cache, shared by every process of the site (Redis in production), and are copied
into process memory, so verifying a request touches neither the network nor the cache. A background thread
per process refreshes the copies; only one process per interval actually calls the issuer. On failure the
last good copy stays in use and the staleness is logged: an issuer outage must not take the apps down.

Time: the revocation list is refetched as soon as it is REVOCATION_REFRESH_SECONDS old (the refresher
wakes when it is due, not on a fixed tick), so a revocation reaches this process within that interval plus
the time of one fetch. Site-wide "one process fetches" claims are cache keys named after the current time
window (`<name>:<window number>`), added atomically, so they also follow the clock seam in tests."""

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from django.core.cache import cache

from . import clock
from .conf import issuer_fetch_base, sso_settings
from .http import FetchError, fetch_json, issuer_url

logger = logging.getLogger(__name__)

JWKS_KEY = "sso_client:jwks"
REVOKED_KEY = "sso_client:revoked"
DISCOVERY_KEY = "sso_client:discovery"

# The refresher's wake-up bounds: never sleep past a second (so a changed setting or a stop is seen soon),
# and while a refresh is due but not yet visible, look again this often (cheap: two cache reads).
MAX_WAIT_SECONDS = 1.0
DUE_POLL_SECONDS = 0.1
CLAIM_DONE = "done"
CLAIM_POLL_SECONDS = 0.02


class UnknownKey(Exception):
    """No published key has this kid, even after a refetch."""


@dataclass
class _Snapshot:
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    jwks_fetched_at: float = 0.0
    revoked_sids: frozenset[str] = frozenset()
    revoked_fetched_at: float = 0.0


class IssuerState:
    def __init__(self) -> None:
        self.snapshot = _Snapshot()
        self._lock = threading.Lock()
        # Held while one thread looks for an unknown kid, so concurrent requests bearing a new key wait for
        # that one fetch instead of being refused by the rate limit it just set.
        self._kid_lock = threading.Lock()
        self._last_kid_refetch = float("-inf")
        self._jwks_retry_at = float("-inf")
        self._revocations_failing_since: float | None = None
        self._synced = False
        # The published kids named by the revocation list this process holds (None: not named).
        self.revoked_entry_kids: frozenset[str] | None = None
        self._unclaimed_fetch_at: float | None = None
        self._thread: threading.Thread | None = None
        self._thread_pid: int | None = None
        self._stop = threading.Event()
        self._count_lock = threading.Lock()
        self.fetch_count = 0  # issuer calls made by this process; the benchmark and tests read it

    # ---- the request path -------------------------------------------------------------------------

    def key_for(self, kid: str) -> jwt.PyJWK:
        """The published key with this kid. An unknown kid triggers a JWKS refetch, at most once per
        JWKS_MIN_REFETCH_SECONDS per process and per site, so a flood of made-up kids costs one fetch."""
        self.ensure_started()
        key = self.snapshot.keys.get(kid)
        if key is not None:
            return key
        with self._kid_lock:
            # Another thread (or process) may have fetched while this one waited: look before asking.
            self._load_jwks_from_cache()
            key = self.snapshot.keys.get(kid)
            if key is None:
                claim = self._claim_kid_refetch()
                if claim is not None:
                    self._refresh_jwks(force=True, claim=claim)
                key = self.snapshot.keys.get(kid)
        if key is None:
            raise UnknownKey(kid)
        return key

    def is_published(self, kid: str) -> bool:
        return kid in self.snapshot.keys

    def is_revoked(self, sid: str) -> bool:
        return sid in self.snapshot.revoked_sids

    def ensure_started(self) -> None:
        """Load what is known on first use, then keep it fresh from a background thread."""
        if not self._synced:
            with self._lock:
                if not self._synced:
                    self.sync()
        if sso_settings()["BACKGROUND_REFRESH"]:
            self._start_thread()

    # ---- refreshing -------------------------------------------------------------------------------

    def sync(self) -> None:
        """Bring both copies up to date: from the shared cache when another process has refreshed it
        within the interval, else from the issuer. Never raises; failures keep the last good copy."""
        self._refresh_jwks(force=False)
        self._refresh_revoked()
        if self._jwks_outdated():
            self._refresh_jwks(force=False, outdated=True)
        self._synced = True

    def _jwks_outdated(self) -> bool:
        """The revocation list names the issuer's published kids: differing from ours means a rotation or a
        retirement happened since our JWKS was fetched (the cache may already hold a newer copy)."""
        kids = self.revoked_entry_kids
        return kids is not None and kids != frozenset(self.snapshot.keys)

    def _count_fetch(self) -> None:
        with self._count_lock:
            self.fetch_count += 1

    def _claim_kid_refetch(self) -> str | None:
        """The site-wide claim to refetch the JWKS for an unknown kid, or None when this process or another
        one did so within the interval. When another process's fetch is still in flight, wait for it (up to
        the HTTP timeout) and take its result: it may carry the very key this request needs."""
        interval = sso_settings()["JWKS_MIN_REFETCH_SECONDS"]
        now = clock.monotonic()
        if now - self._last_kid_refetch < interval:
            return None
        self._last_kid_refetch = now
        claim = _window_key("sso_client:jwks-kid-refetch", interval)
        claimed_at = clock.now()
        if cache.add(claim, claimed_at, timeout=_whole_seconds(2 * interval)):
            return claim
        self._wait_for_claim(claim)
        return None

    def _wait_for_claim(self, claim: str) -> None:
        # Bounded by the fetch's own timeout: a fetch cannot stay in flight longer than that.
        for _ in range(int(sso_settings()["HTTP_TIMEOUT_SECONDS"] / CLAIM_POLL_SECONDS) + 1):
            if cache.get(claim) in (None, CLAIM_DONE):
                break
            time.sleep(CLAIM_POLL_SECONDS)
        self._load_jwks_from_cache()

    def _load_jwks_from_cache(self) -> dict[str, Any] | None:
        entry = cache.get(JWKS_KEY)
        if entry and entry["fetched_at"] != self.snapshot.jwks_fetched_at:
            try:
                self.snapshot.keys = _parse_jwks(entry["jwks"])
            except ValueError:
                return entry  # only a JWKS that parsed is ever cached; keep what this process has
            self.snapshot.jwks_fetched_at = entry["fetched_at"]
        return entry

    def _refresh_jwks(self, *, force: bool, claim: str | None = None, outdated: bool = False) -> None:
        entry = self._load_jwks_from_cache()
        conf = sso_settings()
        if not force:
            if outdated and not self._jwks_outdated():
                return  # another process already fetched the new set
            if not outdated and entry and clock.now() - entry["fetched_at"] < conf["JWKS_MAX_AGE_SECONDS"]:
                return
            # After a failure, wait before trying again; meanwhile the last good copy serves.
            if clock.monotonic() < self._jwks_retry_at:
                return
            # A periodic refresh and one prompted by the revocation list's kids are claimed separately, so
            # a rotation right after a periodic fetch is still fetched at once.
            name = "sso_client:jwks-outdated" if outdated else "sso_client:jwks-refresh"
            claim = _window_key(name, conf["JWKS_MIN_REFETCH_SECONDS"])
            if not cache.add(claim, clock.now(), timeout=_whole_seconds(2 * conf["JWKS_MIN_REFETCH_SECONDS"])):
                return  # another process of this site is refreshing it; its result arrives via the cache
        try:
            self._fetch_jwks(entry)
        finally:
            self._count_fetch()
            # Marked done only once the result (if any) is in the cache: processes waiting on this claim
            # read the cache as soon as they see it done.
            if claim is not None:
                cache.set(claim, CLAIM_DONE, timeout=_whole_seconds(2 * conf["JWKS_MIN_REFETCH_SECONDS"]))

    def _fetch_jwks(self, entry: dict[str, Any] | None) -> None:
        try:
            jwks = fetch_json(self._jwks_uri())
            keys = _parse_jwks(jwks)
        except (FetchError, ValueError, KeyError, TypeError) as e:
            self._jwks_retry_at = clock.monotonic() + sso_settings()["JWKS_MIN_REFETCH_SECONDS"]
            age = clock.now() - entry["fetched_at"] if entry else None
            logger.warning(
                "sso_client event=jwks_fetch_failed error=%s serving=last_good keys=%d stale_seconds=%s",
                e,
                len(self.snapshot.keys),
                "never_fetched" if age is None else f"{age:.0f}",
            )
            return
        fetched_at = clock.now()
        cache.set(JWKS_KEY, {"jwks": jwks, "fetched_at": fetched_at}, timeout=None)
        self.snapshot.keys, self.snapshot.jwks_fetched_at = keys, fetched_at
        logger.info("sso_client event=jwks_fetched kids=%s", ",".join(sorted(keys)))

    def _jwks_uri(self) -> str:
        discovery = cache.get(DISCOVERY_KEY)
        if discovery is None:
            discovery = fetch_json(issuer_fetch_base() + "/.well-known/openid-configuration")
            self._count_fetch()
            if discovery.get("issuer") != sso_settings()["ISSUER"]:
                raise FetchError("discovery document names another issuer")
            issuer_url(discovery.get("jwks_uri"))  # refuse a document pointing elsewhere before keeping it
            cache.set(DISCOVERY_KEY, discovery, timeout=3600)
        return issuer_url(discovery.get("jwks_uri"))

    def _refresh_revoked(self) -> None:
        interval = sso_settings()["REVOCATION_REFRESH_SECONDS"]
        entry = cache.get(REVOKED_KEY)
        fresh = entry is not None and clock.now() - entry["fetched_at"] < interval
        # Only one process per site calls the issuer per interval; the others read its result.
        claim = _window_key("sso_client:revoked-fetch", interval)
        # A process that has never held a list and finds none in the shared cache (a cold start, or the
        # entry evicted) fetches whatever the claim says: waiting for another process's fetch would leave it
        # accepting every revoked session meanwhile. At most once per interval per process, so an issuer
        # that is down is not asked ten times a second by every process.
        never_held = entry is None and self.snapshot.revoked_fetched_at == 0.0
        unclaimed_due = never_held and (
            self._unclaimed_fetch_at is None or clock.now() - self._unclaimed_fetch_at >= interval
        )
        claimed = cache.add(claim, clock.now(), timeout=_whole_seconds(2 * interval)) if not fresh else False
        if not fresh and (claimed or unclaimed_due):
            if not claimed:
                self._unclaimed_fetch_at = clock.now()
            try:
                body = fetch_json(
                    issuer_fetch_base() + "/api/revocations/", max_bytes=sso_settings()["REVOCATION_MAX_BYTES"]
                )
                sids = body["revoked_sids"]
                if not _is_list_of_str(sids):
                    raise FetchError("malformed revocation list")
                kids = body.get("kids")
            except (FetchError, KeyError, TypeError) as e:
                self._revocations_failed(entry, e)
            else:
                entry = {"sids": sids, "kids": kids if _is_list_of_str(kids) else None, "fetched_at": clock.now()}
                cache.set(REVOKED_KEY, entry, timeout=None)
                if self._revocations_failing_since is not None:
                    logger.info(
                        "sso_client event=revocations_recovered stale_for_seconds=%.1f",
                        clock.now() - self._revocations_failing_since,
                    )
                    self._revocations_failing_since = None
            finally:
                self._count_fetch()
        if entry is not None and entry["fetched_at"] != self.snapshot.revoked_fetched_at:
            self.snapshot.revoked_sids = frozenset(entry["sids"])
            self.snapshot.revoked_fetched_at = entry["fetched_at"]
            kids = entry.get("kids")
            self.revoked_entry_kids = frozenset(kids) if kids is not None else None

    def _revocations_failed(self, entry: dict[str, Any] | None, error: Exception) -> None:
        if self._revocations_failing_since is None:
            self._revocations_failing_since = clock.now()
        # The last good list stays in force. Revocations made since it was fetched are not seen here
        # until the issuer answers again: that is what "stale" means, and why it is logged every time.
        age = f"{clock.now() - entry['fetched_at']:.1f}" if entry else "never_fetched"
        logger.warning(
            "sso_client event=revocations_fetch_failed error=%s serving=last_good stale_seconds=%s revoked=%d",
            error,
            age,
            len(entry["sids"]) if entry else 0,
        )

    def seconds_until_due(self) -> float:
        """How long the refresher may sleep: until the revocation list it holds is due, within bounds."""
        interval = sso_settings()["REVOCATION_REFRESH_SECONDS"]
        due_in = self.snapshot.revoked_fetched_at + interval - clock.now()
        return min(MAX_WAIT_SECONDS, max(DUE_POLL_SECONDS, due_in))

    def _start_thread(self) -> None:
        pid = os.getpid()
        if self._thread_pid == pid and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread_pid == pid and self._thread is not None and self._thread.is_alive():
                return
            # A forked worker inherits the parent's thread object but not the thread: start its own.
            self._thread = threading.Thread(target=self._run, name="sso-client-refresh", daemon=True)
            self._thread_pid = pid
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.seconds_until_due()):
            try:
                self.sync()
            except Exception:  # a dead refresher would silently stop revocation; log and keep going
                logger.exception("sso_client event=refresh_failed")

    def reset(self) -> None:
        """Stop refreshing and forget everything this process knows (tests, configuration changes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread, self._thread_pid, self._stop = None, None, threading.Event()
        self.snapshot = _Snapshot()
        self._last_kid_refetch = float("-inf")
        self._jwks_retry_at = float("-inf")
        self._revocations_failing_since = None
        self._synced = False
        self.revoked_entry_kids = None
        self._unclaimed_fetch_at = None
        self.fetch_count = 0


def _is_list_of_str(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _whole_seconds(seconds: float) -> int:
    # Cache backends such as Redis take whole seconds, and 0 would mean "expire now".
    return max(1, int(seconds + 0.999))


def _window_key(name: str, seconds: float) -> str:
    """A cache key naming the current window of `seconds`: adding it claims that window for one process."""
    return f"{name}:{int(clock.now() // max(seconds, 0.001))}"


def _parse_jwks(jwks: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    """Parse the RSA signing keys of a JWKS by kid; skip any other kind of key rather than trust it."""
    keys = {}
    published = jwks.get("keys")
    for jwk in published if isinstance(published, list) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            keys[kid] = jwt.PyJWK(jwk, algorithm="RS256")
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError):
            logger.warning("sso_client event=jwk_skipped kid=%s", kid[:64])
    if not keys:
        # The issuer always publishes its active key, so an empty set is a broken answer, not a rotation:
        # taking it would make every token unverifiable. Treated as a failed fetch (last good copy stays).
        raise ValueError("no usable key in the JWKS")
    return keys


issuer_state = IssuerState()
