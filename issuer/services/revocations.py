"""The revocation list: the sessions whose access tokens relying apps must refuse before they expire."""

from datetime import timedelta

from django.conf import settings

from .. import clock
from ..models import AuditEvent, SSOSession

# How long past the access-token lifetime a revoked session stays on the list: more than relying apps'
# leeway on `exp` (30 s by default) plus clock skew, so no token of it is accepted after it leaves.
REVOCATION_LIST_MARGIN = timedelta(seconds=120)


def revoked_session_ids() -> list[str]:
    """Sessions revoked recently enough that an access token of theirs may still be live anywhere.

    Older ones are pruned: their tokens have expired, so verifiers reject them on `exp` alone. Sessions
    of a deleted user are gone with the user, so they are found through their revocation audit events
    (which outlive the user).

    Read from the database on every call, never cached: relying sites poll this about once per interval
    each, two indexed queries cost less than any cache could save, and a per-process cache would let an
    issuer worker that did not make a revocation serve the list without it."""
    horizon = clock.now() - settings.ACCESS_TOKEN_LIFETIME - REVOCATION_LIST_MARGIN
    sids = set(SSOSession.objects.filter(revoked_at__gte=horizon).values_list("sid", flat=True))
    sids.update(
        AuditEvent.objects.filter(
            kind__in=[AuditEvent.Kind.SESSION_REVOKED, AuditEvent.Kind.LOGOUT],
            created_at__gte=horizon,
            user__isnull=True,
        )
        .exclude(sid="")
        .values_list("sid", flat=True)
    )
    return sorted(sids)
