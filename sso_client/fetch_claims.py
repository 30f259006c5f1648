"""Site-wide "one process fetches" claims: cache keys named after the current time window, added atomically."""

from django.core.cache import cache

from . import clock

# A claim's holder marks it done once its result is in the cache; waiters look this often.
CLAIM_DONE = "done"
CLAIM_POLL_SECONDS = 0.02


def whole_seconds(seconds: float) -> int:
    """A cache timeout: backends such as Redis take whole seconds, and 0 would mean "expire now"."""
    return max(1, int(seconds + 0.999))


def window_key(name: str, seconds: float) -> str:
    """A cache key naming the current window of `seconds`: adding it claims that window for one process."""
    return f"{name}:{int(clock.now() // max(seconds, 0.001))}"


def window_claim(name: str, seconds: float) -> str | None:
    """Claim the current window of `seconds` for this process: its key, or None when another process has it."""
    claim = window_key(name, seconds)
    if cache.add(claim, clock.now(), timeout=whole_seconds(2 * seconds)):
        return claim
    return None
