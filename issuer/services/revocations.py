"""The revocation list: the sessions whose access tokens relying apps must refuse before they expire."""

from datetime import timedelta

from django.conf import settings

from .. import clock
from ..models import RevokedSession

# How long past the access-token lifetime a revoked session stays on the list: more than relying apps'
# leeway on `exp` (30 s by default) plus clock skew, so no token of it is accepted after it leaves.
REVOCATION_LIST_MARGIN = timedelta(seconds=120)


def revoked_session_ids() -> list[str]:
    """Sessions revoked recently enough that an access token of theirs may still be live anywhere.

    Older ones are left out: their tokens have expired, so verifiers reject them on `exp` alone. Read from
    RevokedSession, which outlives the user, so a deleted user's sessions stay on the list; the audit log is
    never consulted (pruning or rewording it changes nothing here).

    Read from the database on every call, never cached: relying sites poll this about once per interval
    each, one indexed query costs less than any cache could save, and a per-process cache would let an
    issuer worker that did not make a revocation serve the list without it."""
    horizon = clock.now() - settings.ACCESS_TOKEN_LIFETIME - REVOCATION_LIST_MARGIN
    return sorted(RevokedSession.objects.filter(revoked_at__gte=horizon).values_list("sid", flat=True))
