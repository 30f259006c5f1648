"""The issuer's signing keys at a relying process: the JWKS copy, kid lookup and the rules for refetching it.

The JWKS lives in the Django cache, shared by every process of the site, and is copied into process
memory, so finding a token's key touches neither the network nor the cache. On failure the last good copy
stays in use and the staleness is logged: an issuer outage must not take the apps down."""

import logging
import threading
import time
from typing import Any

import jwt
from django.core.cache import cache

from . import clock, http, metrics
from .conf import issuer_fetch_base, sso_settings
from .fetch_claims import CLAIM_DONE, CLAIM_POLL_SECONDS, whole_seconds, window_claim, window_key
from .http import FetchError, issuer_url

logger = logging.getLogger(__name__)

JWKS_KEY = "sso_client:jwks"
DISCOVERY_KEY = "sso_client:discovery"


class UnknownKey(Exception):
    """No published key has this kid, even after a refetch."""


class JwksCopy:
    """This process's copy of the issuer's published keys, by kid."""

    def __init__(self) -> None:
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at = 0.0
        # Held while one thread looks for an unknown kid, so concurrent requests bearing a new key wait for
        # that one fetch instead of being refused by the rate limit it just set.
        self._kid_lock = threading.Lock()
        self._last_kid_refetch = float("-inf")
        self._retry_at = float("-inf")

    def is_published(self, kid: str) -> bool:
        return kid in self.keys

    def differs_from(self, kids: frozenset[str] | None) -> bool:
        """Whether the issuer's published kids (as the revocation list names them) differ from ours: a
        rotation or a retirement happened since our JWKS was fetched (the cache may already hold a newer copy)."""
        return kids is not None and kids != frozenset(self.keys)

    def key_for(self, kid: str) -> jwt.PyJWK:
        """The published key with this kid. An unknown kid triggers a JWKS refetch, at most once per
        JWKS_MIN_REFETCH_SECONDS per process and per site, so a flood of made-up kids costs one fetch."""
        key = self.keys.get(kid)
        if key is not None:
            return key
        with self._kid_lock:
            # Another thread (or process) may have fetched while this one waited: look before asking.
            self._load_from_cache()
            key = self.keys.get(kid)
            if key is None:
                claim = self._claim_kid_refetch()
                if claim is not None:
                    self.refresh(force=True, claim=claim)
                key = self.keys.get(kid)
        if key is None:
            raise UnknownKey(kid)
        return key

    def _claim_kid_refetch(self) -> str | None:
        """The site-wide claim to refetch the JWKS for an unknown kid, or None when this process or another
        one did so within the interval. When another process's fetch is still in flight, wait for it (up to
        the HTTP timeout) and take its result: it may carry the very key this request needs."""
        interval = sso_settings()["JWKS_MIN_REFETCH_SECONDS"]
        now = clock.monotonic()
        if now - self._last_kid_refetch < interval:
            return None
        self._last_kid_refetch = now
        claim = window_key("sso_client:jwks-kid-refetch", interval)
        if cache.add(claim, clock.now(), timeout=whole_seconds(2 * interval)):
            return claim
        self._wait_for_claim(claim)
        return None

    def _wait_for_claim(self, claim: str) -> None:
        # Bounded by the fetch's own timeout: a fetch cannot stay in flight longer than that.
        for _ in range(int(sso_settings()["HTTP_TIMEOUT_SECONDS"] / CLAIM_POLL_SECONDS) + 1):
            if cache.get(claim) in (None, CLAIM_DONE):
                break
            time.sleep(CLAIM_POLL_SECONDS)
        self._load_from_cache()

    def _load_from_cache(self) -> dict[str, Any] | None:
        entry = cache.get(JWKS_KEY)
        if entry and entry["fetched_at"] != self.fetched_at:
            try:
                self.keys = jwks_parse(entry["jwks"])
            except ValueError:
                return entry  # only a JWKS that parsed is ever cached; keep what this process has
            self.fetched_at = entry["fetched_at"]
        return entry

    def refresh(self, *, force: bool, claim: str | None = None, outdated_kids: frozenset[str] | None = None) -> None:
        """Bring the copy up to date: from the shared cache while it is fresh, else from the issuer under this
        window's site-wide claim. `outdated_kids` (the revocation list's kids, differing from ours) asks for a
        refetch the periodic one does not wait for; `force` (an unknown kid, `claim` already held) skips both."""
        entry = self._load_from_cache()
        conf = sso_settings()
        outdated = outdated_kids is not None
        if not force:
            if outdated and not self.differs_from(outdated_kids):
                return  # another process already fetched the new set
            if not outdated and entry and clock.now() - entry["fetched_at"] < conf["JWKS_MAX_AGE_SECONDS"]:
                return
            # After a failure, wait before trying again; meanwhile the last good copy serves.
            if clock.monotonic() < self._retry_at:
                return
            # A periodic refresh and one prompted by the revocation list's kids are claimed separately, so
            # a rotation right after a periodic fetch is still fetched at once.
            name = "sso_client:jwks-outdated" if outdated else "sso_client:jwks-refresh"
            claim = window_claim(name, conf["JWKS_MIN_REFETCH_SECONDS"])
            if claim is None:
                return  # another process of this site is refreshing it; its result arrives via the cache
        try:
            self._fetch(entry)
        finally:
            # Marked done only once the result (if any) is in the cache: processes waiting on this claim
            # read the cache as soon as they see it done.
            if claim is not None:
                cache.set(claim, CLAIM_DONE, timeout=whole_seconds(2 * conf["JWKS_MIN_REFETCH_SECONDS"]))

    def _fetch(self, entry: dict[str, Any] | None) -> None:
        try:
            jwks = http.fetch_json(self._jwks_uri())
            keys = jwks_parse(jwks)
        except (FetchError, ValueError, KeyError, TypeError) as e:
            metrics.JWKS_FETCHES.labels(outcome="failed").inc()
            self._retry_at = clock.monotonic() + sso_settings()["JWKS_MIN_REFETCH_SECONDS"]
            age = clock.now() - entry["fetched_at"] if entry else None
            logger.warning(
                "sso_client event=jwks_fetch_failed error=%s serving=last_good keys=%d stale_seconds=%s",
                e,
                len(self.keys),
                "never_fetched" if age is None else f"{age:.0f}",
            )
            return
        metrics.JWKS_FETCHES.labels(outcome="ok").inc()
        fetched_at = clock.now()
        cache.set(JWKS_KEY, {"jwks": jwks, "fetched_at": fetched_at}, timeout=None)
        self.keys, self.fetched_at = keys, fetched_at
        logger.info("sso_client event=jwks_fetched kids=%s", ",".join(sorted(keys)))

    def _jwks_uri(self) -> str:
        return issuer_url(discovery_document().get("jwks_uri"))


def discovery_document() -> dict[str, Any]:
    """The issuer's discovery document, kept in the shared cache for an hour; FetchError when it cannot be had
    or names another issuer or a JWKS elsewhere."""
    discovery = cache.get(DISCOVERY_KEY)
    if discovery is None:
        discovery = http.fetch_json(issuer_fetch_base() + "/.well-known/openid-configuration")
        if discovery.get("issuer") != sso_settings()["ISSUER"]:
            raise FetchError("discovery document names another issuer")
        issuer_url(discovery.get("jwks_uri"))  # refuse a document pointing elsewhere before keeping it
        cache.set(DISCOVERY_KEY, discovery, timeout=3600)
    return discovery


def jwks_parse(jwks: dict[str, Any]) -> dict[str, jwt.PyJWK]:
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
