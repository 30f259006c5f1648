"""What a relying process knows about the issuer, behind one object: its signing keys and its revoked sessions.

The verifier asks one question of each (`key_for`, `is_published`, `is_revoked`), and the two copies are
refreshed together because they depend on each other: the revocation list names the issuer's published kids,
which is how a rotation or retirement is noticed before the JWKS's own max age (sso_client.keys). Each copy
lives in the Django cache (Redis in production) and in process memory; sso_client.refresher keeps them fresh.

Time: the revocation list is refetched as soon as it is REVOCATION_REFRESH_SECONDS old (the refresher
wakes when it is due, not on a fixed tick), so a revocation reaches this process within that interval plus
the time of one fetch. Site-wide "one process fetches" claims follow the clock seam (sso_client.fetch_claims)."""

import threading

import jwt

from .conf import sso_settings
from .keys import JWKS_KEY, JwksCopy, UnknownKey
from .refresher import Refresher, wait_seconds
from .revocations import REVOKED_KEY, RevocationListCopy

# Callers (the verifier, tests seeding the cache) name these through this module.
__all__ = ["JWKS_KEY", "REVOKED_KEY", "IssuerState", "UnknownKey", "issuer_state"]


class IssuerState:
    """The JWKS copy and the revocation-list copy of one process, synced together."""

    def __init__(self) -> None:
        self.jwks = JwksCopy()
        self.revocations = RevocationListCopy()
        self._lock = threading.Lock()
        self._synced = False
        self._refresher = Refresher(sync=self.sync, due_in=lambda: self.revocations.seconds_until_due())

    # ---- the request path -------------------------------------------------------------------------

    def key_for(self, kid: str) -> jwt.PyJWK:
        """The published key with this kid (an unknown kid refetches the JWKS, rate-limited), or UnknownKey."""
        self.ensure_started()
        return self.jwks.key_for(kid)

    def is_published(self, kid: str) -> bool:
        return self.jwks.is_published(kid)

    def is_revoked(self, sid: str) -> bool:
        return self.revocations.is_revoked(sid)

    def ensure_started(self) -> None:
        """Load what is known on first use, then keep it fresh from a background thread."""
        if not self._synced:
            with self._lock:
                if not self._synced:
                    self.sync()
        if sso_settings()["BACKGROUND_REFRESH"]:
            self._refresher.start()

    # ---- refreshing -------------------------------------------------------------------------------

    def sync(self) -> None:
        """Bring both copies up to date: from the shared cache when another process has refreshed it
        within the interval, else from the issuer. Never raises; failures keep the last good copy."""
        self.jwks.refresh(force=False)
        self.revocations.refresh()
        if self.jwks.differs_from(self.revocations.kids):
            self.jwks.refresh(force=False, outdated_kids=self.revocations.kids)
        self._synced = True

    def seconds_until_due(self) -> float:
        """How long the refresher may sleep: until the revocation list it holds is due, within bounds."""
        return wait_seconds(due_in=self.revocations.seconds_until_due())

    def reset(self) -> None:
        """Stop refreshing and forget everything this process knows (tests, configuration changes)."""
        self._refresher.stop()
        self.jwks = JwksCopy()
        self.revocations = RevocationListCopy()
        self._synced = False


issuer_state = IssuerState()
