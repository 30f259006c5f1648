"""Sessions a back-channel logout ended at this site, kept in the shared cache until every access token of
theirs has expired: a sign-out at the issuer takes effect here at once, before the revocation list says so."""

from django.core.cache import cache

from .conf import sso_settings
from .fetch_claims import whole_seconds

ENDED_PREFIX = "sso_client:ended-sid:"


def session_end(sid: str) -> None:
    """Refuse every access token of `sid` from now on (for as long as one of them could still be valid)."""
    conf = sso_settings()
    cache.set(ENDED_PREFIX + sid, True, timeout=whole_seconds(conf["ACCESS_TOKEN_SECONDS"] + conf["LEEWAY_SECONDS"]))


def session_ended(sid: str) -> bool:
    return cache.get(ENDED_PREFIX + sid) is not None
