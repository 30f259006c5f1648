"""Sign-on throttling: sign-on attempts are counted per username and per client address, which bounds password
guessing against one account (brute force) and from one address (credential stuffing across many accounts).

The counts live in the issuer's database (issuer.models.ThrottleCounter), never in the cache: a cache evicts
entries when it fills (the local-memory cache culls at MAX_ENTRIES, Redis under an `allkeys-*` policy), and
anything an attacker can make the issuer write to the cache would then flush a lockout. A row is updated
under its own row lock (`select_for_update`; SQLite's IMMEDIATE transactions serialise writers), so every
issuer process shares the counts and concurrent attempts each get their own place. When the database cannot
count, an attempt is refused (fail closed), never let through unchecked: a database that cannot be reached
is a 503 for the whole request (webguard.unavailable), any other failure to count a 429.

An attempt is counted *before* its password is checked, so parallel guesses cannot slip past the limit while
the first ones are still being hashed; a successful sign-on then takes its attempt back. A window opens at
the first counted attempt and lasts WINDOW_SECONDS; past the limit, attempts for that username or from that
address are refused until it closes, before the password is checked (otherwise the answer during a lockout
would still tell a guesser whether the password was right). Expired rows are pruned whenever a new row is
written, and by `manage.py prune_throttle_counters`.

Service clients are counted per address only, in their own namespace: their secrets are long and random, so
a per-client lockout would protect nothing and would let anyone lock a client out by guessing badly.

IPv6 clients are counted per /64, the block one subscriber usually holds."""

import hashlib
import ipaddress
import logging
import math
import unicodedata
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F

from .. import clock, metrics
from ..models import ThrottleCounter

logger = logging.getLogger(__name__)

# Retry-After when the counts cannot be read or written: the attempt is refused, and a client may try again
# soon (the database is usually back within seconds).
STORE_UNAVAILABLE_RETRY_SECONDS = 30


def _window_seconds() -> int:
    return settings.SSO_LOGIN_THROTTLE["WINDOW_SECONDS"]


def _username_id(username: str) -> str:
    # Case and Unicode variants of one name count as one, so "Alice" and "ALICE" share alice's budget.
    return unicodedata.normalize("NFKC", username).casefold()


def _digest(identity: str) -> str:
    # Hashed: usernames and addresses are attacker-chosen and may hold characters or lengths a key must not.
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()


def _address_id(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _scopes(*, namespace: str, username: str | None, ip: str | None) -> list[tuple[str, str, int]]:
    limits = settings.SSO_LOGIN_THROTTLE
    scopes = []
    if username is not None:
        scopes.append((f"{namespace}-username", _username_id(username), limits["FAILURES_PER_USERNAME"]))
    if ip:
        scopes.append((f"{namespace}-ip", _address_id(ip), limits["FAILURES_PER_IP"]))
    return scopes


def counter_increment(*, scope: str, identity: str, window_seconds: int) -> tuple[int, datetime]:
    """Count one event for `identity` in `scope`: returns the count this event made (its place in the window)
    and the window's end. A window opens at the first event and closes `window_seconds` later; the next event
    after that starts a new one. Raises DatabaseError when the database cannot count (callers fail closed)."""
    now = clock.now()
    key = _digest(identity)
    created = False
    with transaction.atomic():
        counter = ThrottleCounter.objects.select_for_update().filter(scope=scope, key=key).first()
        if counter is None:
            counter, created = _counter_create(
                scope=scope, key=key, window_ends_at=now + timedelta(seconds=window_seconds)
            )
        if not created:
            if counter.window_ends_at <= now:
                counter.count, counter.window_ends_at = 1, now + timedelta(seconds=window_seconds)
            else:
                counter.count += 1
            counter.save(update_fields=["count", "window_ends_at"])
    if created:
        counters_prune()  # a new row is the moment the table grows: drop the ones whose windows closed
    return counter.count, counter.window_ends_at


def _counter_create(*, scope: str, key: str, window_ends_at: datetime) -> tuple[ThrottleCounter, bool]:
    # Another attempt may create the row between our read and our INSERT, and a successful sign-on may delete
    # it again before we lock it (attempt_succeeded): go round until one of the two steps finds the row.
    for _ in range(CREATE_ATTEMPTS):
        try:
            # A savepoint: on PostgreSQL a failed INSERT would otherwise abort the whole transaction.
            with transaction.atomic():
                counter = ThrottleCounter.objects.create(scope=scope, key=key, count=1, window_ends_at=window_ends_at)
                return counter, True
        except IntegrityError:  # created meanwhile: count on its row, under its lock
            counter = ThrottleCounter.objects.select_for_update().filter(scope=scope, key=key).first()
            if counter is not None:
                return counter, False
    raise DatabaseError(f"throttle counter {scope} kept appearing and vanishing")  # callers fail closed


# Each round needs a create and a delete by others in between: more than a few is a store gone wrong.
CREATE_ATTEMPTS = 5


def counters_prune() -> int:
    """Delete the counters whose windows have closed; returns how many."""
    deleted, _by_model = ThrottleCounter.objects.filter(window_ends_at__lte=clock.now()).delete()
    return deleted


def _retry_after(scopes: list[tuple[str, str, int]], *, now: datetime) -> int | None:
    """Seconds until every scope's budget has room again, or None when it has room now."""
    keys = {(scope, _digest(identity)): limit for scope, identity, limit in scopes}
    live = ThrottleCounter.objects.filter(
        scope__in=[scope for scope, _key in keys], key__in=[key for _scope, key in keys], window_ends_at__gt=now
    )
    for counter in live:
        limit = keys.get((counter.scope, counter.key))
        if limit is not None and counter.count >= limit:
            return _refusal(counter.scope, counter.window_ends_at, now=now)
    return None


def _refusal(scope: str, until: datetime, *, now: datetime) -> int:
    retry_after = max(1, math.ceil((until - now).total_seconds()))
    metrics.THROTTLED.labels(scope=scope).inc()
    logger.warning("auth event=login_throttled scope=%s retry_after=%d", scope, retry_after)
    return retry_after


def attempt_begin(*, username: str | None, ip: str | None, namespace: str = "login") -> int | None:
    """Count one attempt against the username's and the address's budgets before its secret is checked.
    Returns the seconds to wait when a budget is spent, or when the counts cannot be kept (the attempt must
    then be refused), else None.

    Each attempt is judged by the count its own locked increment made, not by a later read: of N attempts
    racing into an empty window exactly `limit` get places within the budget."""
    now = clock.now()
    scopes = _scopes(namespace=namespace, username=username, ip=ip)
    try:
        retry_after = _retry_after(scopes, now=now)
        if retry_after is not None:
            return retry_after
        refused = None
        for scope, identity, limit in scopes:
            place, until = counter_increment(scope=scope, identity=identity, window_seconds=_window_seconds())
            if place > limit and refused is None:
                refused = _refusal(scope, until, now=now)
        return refused
    except (OperationalError, InterfaceError):
        # The database is unreachable: every path answers 503 then (webguard.unavailable), this one too; the
        # attempt is refused all the same, and not with words that blame the person's failed attempts.
        raise
    except DatabaseError as e:
        logger.error("auth event=throttle_store_unavailable namespace=%s error=%s", namespace, type(e).__name__)
        return STORE_UNAVAILABLE_RETRY_SECONDS


def attempt_succeeded(*, username: str | None, ip: str | None, namespace: str = "login") -> None:
    """A successful attempt is not a failure: clear the username's count and take the attempt back from the
    address's (never clear the address's count: an attacker could otherwise reset their own budget by
    signing in to an account of their own between guesses)."""
    now = clock.now()
    for scope, identity, _limit in _scopes(namespace=namespace, username=username, ip=ip):
        counters = ThrottleCounter.objects.filter(scope=scope, key=_digest(identity))
        if scope.endswith("-username"):
            counters.delete()
        else:
            counters.filter(count__gt=0, window_ends_at__gt=now).update(count=F("count") - 1)
