"""sso_client's one source of time, so tests move the clock instead of sleeping."""

import time


def now() -> float:
    """Seconds since the epoch, as JWT time claims count them."""
    return time.time()


def monotonic() -> float:
    return time.monotonic()
