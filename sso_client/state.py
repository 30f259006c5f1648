"""What a relying process knows about the issuer: its signing keys (JWKS) and its revoked sessions.

Both live in the Django cache, shared by every process of the site (Redis in production), and are copied
into process memory, so verifying a request touches neither the network nor the cache. A background thread
per process refreshes the copies; only one process per interval actually calls the issuer. On failure the
last good copy stays in use and the staleness is logged: an issuer outage must not take the apps down."""

import logging
import os
import threading
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
        self._last_kid_refetch = float("-inf")
        self._thread: threading.Thread | None = None
        self._thread_pid: int | None = None
        self._stop = threading.Event()
        self.fetch_count = 0  # issuer calls made by this process; the benchmark and tests read it

    # ---- the request path -------------------------------------------------------------------------

    def key_for(self, kid: str) -> jwt.PyJWK:
        """The published key with this kid. An unknown kid triggers a JWKS refetch, at most once per
        JWKS_MIN_REFETCH_SECONDS per process and per site, so a flood of made-up kids costs one fetch."""
        self.ensure_started()
        key = self.snapshot.keys.get(kid)
        if key is not None:
            return key
        self._load_jwks_from_cache()
        key = self.snapshot.keys.get(kid)
        if key is None and self._may_refetch_for_kid():
            self._refresh_jwks(force=True)
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
        if self.snapshot.jwks_fetched_at == 0.0:
            with self._lock:
                if self.snapshot.jwks_fetched_at == 0.0:
                    self.sync()
        if sso_settings()["BACKGROUND_REFRESH"]:
            self._start_thread()

    # ---- refreshing -------------------------------------------------------------------------------

    def sync(self) -> None:
        """Bring both copies up to date: from the shared cache when another process has refreshed it
        within the interval, else from the issuer. Never raises; failures keep the last good copy."""
        self._refresh_jwks(force=False)
        self._refresh_revoked()

    def _may_refetch_for_kid(self) -> bool:
        interval = sso_settings()["JWKS_MIN_REFETCH_SECONDS"]
        now = clock.monotonic()
        if now - self._last_kid_refetch < interval:
            return False
        self._last_kid_refetch = now
        # One fetch per interval for the whole site, not per process.
        return cache.add("sso_client:jwks-kid-refetch", 1, timeout=_whole_seconds(interval))

    def _load_jwks_from_cache(self) -> dict[str, Any] | None:
        entry = cache.get(JWKS_KEY)
        if entry and entry["fetched_at"] != self.snapshot.jwks_fetched_at:
            self.snapshot.keys = _parse_jwks(entry["jwks"])
            self.snapshot.jwks_fetched_at = entry["fetched_at"]
        return entry

    def _refresh_jwks(self, *, force: bool) -> None:
        entry = self._load_jwks_from_cache()
        max_age = sso_settings()["JWKS_MAX_AGE_SECONDS"]
        if not force and entry and clock.now() - entry["fetched_at"] < max_age:
            return
        try:
            jwks = fetch_json(self._jwks_uri())
            keys = _parse_jwks(jwks)
        except (FetchError, ValueError, KeyError, TypeError) as e:
            logger.warning(
                "sso_client event=jwks_fetch_failed error=%s serving=last_good keys=%d", e, len(self.snapshot.keys)
            )
            return
        finally:
            self.fetch_count += 1
        fetched_at = clock.now()
        cache.set(JWKS_KEY, {"jwks": jwks, "fetched_at": fetched_at}, timeout=None)
        self.snapshot.keys, self.snapshot.jwks_fetched_at = keys, fetched_at
        logger.info("sso_client event=jwks_fetched kids=%s", ",".join(sorted(keys)))

    def _jwks_uri(self) -> str:
        discovery = cache.get(DISCOVERY_KEY)
        if discovery is None:
            discovery = fetch_json(issuer_fetch_base() + "/.well-known/openid-configuration")
            self.fetch_count += 1
            if discovery.get("issuer") != sso_settings()["ISSUER"]:
                raise FetchError("discovery document names another issuer")
            cache.set(DISCOVERY_KEY, discovery, timeout=3600)
        return issuer_url(discovery["jwks_uri"])

    def _refresh_revoked(self) -> None:
        interval = sso_settings()["REVOCATION_REFRESH_SECONDS"]
        entry = cache.get(REVOKED_KEY)
        fresh = entry is not None and clock.now() - entry["fetched_at"] < interval
        # Only one process per site calls the issuer per interval; the others read its result.
        if not fresh and cache.add("sso_client:revoked-fetch", 1, timeout=_whole_seconds(interval / 2)):
            try:
                body = fetch_json(issuer_fetch_base() + "/api/revocations/")
                sids = body["revoked_sids"]
                if not isinstance(sids, list) or not all(isinstance(s, str) for s in sids):
                    raise FetchError("malformed revocation list")
                entry = {"sids": sids, "fetched_at": clock.now()}
                cache.set(REVOKED_KEY, entry, timeout=None)
            except (FetchError, KeyError, TypeError) as e:
                age = clock.now() - (entry or {}).get("fetched_at", clock.now())
                logger.warning("sso_client event=revocations_fetch_failed error=%s stale_seconds=%.0f", e, age)
            finally:
                self.fetch_count += 1
        if entry is not None and entry["fetched_at"] != self.snapshot.revoked_fetched_at:
            self.snapshot.revoked_sids = frozenset(entry["sids"])
            self.snapshot.revoked_fetched_at = entry["fetched_at"]

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
        # Syncing at least every second keeps the revocation window at the interval plus a second.
        while not self._stop.wait(min(1.0, sso_settings()["REVOCATION_REFRESH_SECONDS"] / 2)):
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
        self.fetch_count = 0


def _whole_seconds(seconds: float) -> int:
    # Cache backends such as Redis take whole seconds, and 0 would mean "expire now".
    return max(1, int(seconds))


def _parse_jwks(jwks: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    """Parse the RSA signing keys of a JWKS by kid; skip any other kind of key rather than trust it."""
    keys = {}
    for jwk in jwks.get("keys", []):
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            keys[kid] = jwt.PyJWK(jwk, algorithm="RS256")
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError):
            logger.warning("sso_client event=jwk_skipped kid=%s", kid[:64])
    return keys


issuer_state = IssuerState()
