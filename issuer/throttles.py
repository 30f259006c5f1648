"""Login throttling: failed sign-ons are counted per username and per client address in the cache (Redis in
production, so every issuer process shares the counts), which bounds password guessing against one account
(brute force) and from one address (credential stuffing across many accounts).

A window opens at the first failure and lasts WINDOW_SECONDS; past the limit, sign-ons for that username or
from that address are refused until it closes. The count is one atomic `add`/`incr`, so parallel guesses
cannot slip past it. A throttled attempt is refused before the password is checked: otherwise the answer
during a lockout would still tell a guesser whether the password was right."""

import hashlib
import logging
import math
import unicodedata

from django.conf import settings
from django.core.cache import cache

from . import clock

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


def _scopes(*, username: str, ip: str | None) -> list[tuple[str, str, int]]:
    limits = settings.SSO_LOGIN_THROTTLE
    scopes = [("username", _username_id(username), limits["FAILURES_PER_USERNAME"])]
    if ip:
        scopes.append(("ip", ip, limits["FAILURES_PER_IP"]))
    return scopes


def login_retry_after(*, username: str, ip: str | None) -> int | None:
    """Seconds until this username and address may try again, or None when they may try now."""
    now = clock.now().timestamp()
    scopes = _scopes(username=username, ip=ip)
    stored = cache.get_many([key for scope, identity, _limit in scopes for key in _keys(scope, identity)])
    for scope, identity, limit in scopes:
        count_key, until_key = _keys(scope, identity)
        until = stored.get(until_key)
        if until is not None and until <= now:
            continue  # the window has closed (the cache may not have noticed yet)
        if stored.get(count_key, 0) >= limit:
            retry_after = max(1, math.ceil(until - now)) if until is not None else _window_seconds()
            logger.warning("auth event=login_throttled scope=%s retry_after=%d", scope, retry_after)
            return retry_after
    return None


def login_failure_record(*, username: str, ip: str | None) -> None:
    """Count one failed sign-on against the username and the address."""
    now = clock.now().timestamp()
    window = _window_seconds()
    for scope, identity, _limit in _scopes(username=username, ip=ip):
        count_key, until_key = _keys(scope, identity)
        until = cache.get(until_key)
        if until is not None and until <= now:
            cache.delete_many([count_key, until_key])
        # `add` is atomic: of several first failures at once, one opens the window and all are counted.
        if cache.add(count_key, 0, timeout=window):
            cache.set(until_key, now + window, timeout=window)
        try:
            cache.incr(count_key)
        except ValueError:  # expired in between: this failure starts the count again
            cache.set(count_key, 1, timeout=window)


def login_failures_forget(*, username: str) -> None:
    """A successful sign-on clears its username's count (never the address's: an attacker could otherwise
    reset their own address's budget by signing in to an account of their own between guesses)."""
    cache.delete_many(list(_keys("username", _username_id(username))))
