"""Login throttling: sign-on attempts are counted per username and per client address in the cache (Redis in
production, so every issuer process shares the counts), which bounds password guessing against one account
(brute force) and from one address (credential stuffing across many accounts).

An attempt is counted *before* its password is checked (one atomic `add`/`incr` per count), so parallel
guesses cannot slip past the limit while the first ones are still being hashed; a successful sign-on then
takes its attempt back. A window opens at the first counted attempt and lasts WINDOW_SECONDS; past the limit,
attempts for that username or from that address are refused until it closes, before the password is
checked (otherwise the answer during a lockout would still tell a guesser whether the password was right).

Service clients are counted per address only, in their own namespace: their secrets are long and random, so
a per-client lockout would protect nothing and would let anyone lock a client out by guessing badly.

IPv6 clients are counted per /64, the block one subscriber usually holds."""

import hashlib
import ipaddress
import logging
import math
import unicodedata

from django.conf import settings
from django.core.cache import cache

from .. import clock

logger = logging.getLogger(__name__)


def _window_seconds() -> int:
    return settings.SSO_LOGIN_THROTTLE["WINDOW_SECONDS"]


def _username_id(username: str) -> str:
    # Case and Unicode variants of one name count as one, so "Alice" and "ALICE" share alice's budget.
    return unicodedata.normalize("NFKC", username).casefold()


def _keys(scope: str, identity: str) -> tuple[str, str]:
    """The cache keys of one count and of the end of its window."""
    # Hashed: usernames are attacker-chosen and may hold characters or lengths a cache key must not.
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    prefix = f"issuer:login-failures:{scope}:{digest}"
    return f"{prefix}:count", f"{prefix}:until"


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


def _retry_after(scopes: list[tuple[str, str, int]], *, now: float) -> int | None:
    """Seconds until every scope's budget has room again, or None when it has room now."""
    stored = cache.get_many([key for scope, identity, _limit in scopes for key in _keys(scope, identity)])
    for scope, identity, limit in scopes:
        count_key, until_key = _keys(scope, identity)
        until = stored.get(until_key)
        if until is not None and until <= now:
            continue  # the window has closed (the cache may not have noticed yet)
        if stored.get(count_key, 0) >= limit:
            return _refusal(scope, until, now=now)
    return None


def _refusal(scope: str, until: float | None, *, now: float) -> int:
    retry_after = max(1, math.ceil(until - now)) if until is not None else _window_seconds()
    logger.warning("auth event=login_throttled scope=%s retry_after=%d", scope, retry_after)
    return retry_after


def _count(scope: str, identity: str, *, now: float) -> tuple[int, float | None]:
    """Count one attempt; returns the count this attempt made (its place in the window) and the window's end."""
    window = _window_seconds()
    count_key, until_key = _keys(scope, identity)
    until = cache.get(until_key)
    if until is not None and until <= now:
        cache.delete_many([count_key, until_key])
        until = None
    # `add` is atomic: of several first attempts at once, one opens the window and all are counted.
    if cache.add(count_key, 0, timeout=window):
        until = now + window
        cache.set(until_key, until, timeout=window)
    try:
        return cache.incr(count_key), until
    except ValueError:  # expired in between: this attempt starts the count again
        cache.set(count_key, 1, timeout=window)
        return 1, until


def attempt_begin(*, username: str | None, ip: str | None, namespace: str = "login") -> int | None:
    """Count one attempt against the username's and the address's budgets before its secret is checked.
    Returns the seconds to wait when a budget is spent (the attempt must then be refused), else None.

    Each attempt is judged by the count its own atomic increment returned, not by a later read: of N
    attempts racing into an empty window exactly `limit` get places within the budget."""
    now = clock.now().timestamp()
    scopes = _scopes(namespace=namespace, username=username, ip=ip)
    retry_after = _retry_after(scopes, now=now)
    if retry_after is not None:
        return retry_after
    refused = None
    for scope, identity, limit in scopes:
        place, until = _count(scope, identity, now=now)
        if place > limit and refused is None:
            refused = _refusal(scope, until, now=now)
    return refused


def attempt_succeeded(*, username: str | None, ip: str | None, namespace: str = "login") -> None:
    """A successful attempt is not a failure: clear the username's count and take the attempt back from the
    address's (never clear the address's count: an attacker could otherwise reset their own budget by
    signing in to an account of their own between guesses)."""
    for scope, identity, _limit in _scopes(namespace=namespace, username=username, ip=ip):
        count_key, until_key = _keys(scope, identity)
        if scope.endswith("-username"):
            cache.delete_many([count_key, until_key])
            continue
        try:
            if cache.decr(count_key) < 0:
                cache.delete(count_key)
        except ValueError:
            pass  # the window closed meanwhile: nothing to take back
