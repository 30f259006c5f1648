"""A Redis cache backend for which an unreachable Redis is a miss, never an error.

Every use of the cache in these sites has the database or the issuer behind it: the JWKS and the revocation
list are copies of the issuer's, the active kid and service tokens are looked up again, "one process fetches"
claims are an economy. So while Redis is down a read finds nothing, a write keeps nothing, and a claim
(`add`) is granted: each process then does the work itself (no sharing), and nothing answers 500. After a
failure the cache is skipped for SKIP_SECONDS, so a Redis that hangs costs one socket timeout per process and
interval, not one per call; the outage is logged once per interval (sso_client.outages)."""

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .outages import OutageLog

logger = logging.getLogger(__name__)

# How long the cache is left alone after a failed call before it is tried again.
SKIP_SECONDS = 1.0
# What "Redis cannot be reached" raises; any other error (a wrong type under a key) is a bug and propagates.
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

# Per process (every thread has its own backend instance, and they share one Redis).
outage = OutageLog(logger, "cache")
_skip_until = float("-inf")


def _tolerant(when_down: Callable[..., Any]) -> Callable:
    """Run the backend's method, or answer `when_down(*args, **kwargs)` while Redis cannot be reached."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def call(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
            global _skip_until
            if time.monotonic() < _skip_until:
                return when_down(*args, **kwargs)
            try:
                result = method(self, *args, **kwargs)
            except UNREACHABLE as e:
                _skip_until = time.monotonic() + SKIP_SECONDS
                outage.failed(e)
                return when_down(*args, **kwargs)
            outage.ok()
            return result

        return call

    return decorate


def _default(key: str, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return default


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def _false(*args: Any, **kwargs: Any) -> bool:
    return False


def _granted(*args: Any, **kwargs: Any) -> bool:
    # A claim nobody can hold is granted: the caller does the work itself rather than wait for no one.
    return True


def _empty(*args: Any, **kwargs: Any) -> dict:
    return {}


def _all_failed(data: dict, *args: Any, **kwargs: Any) -> list:
    return list(data)


class TolerantRedisCache(RedisCache):
    """Django's Redis backend; while Redis cannot be reached, reads miss, writes are dropped, claims granted."""

    get = _tolerant(_default)(RedisCache.get)
    add = _tolerant(_granted)(RedisCache.add)
    set = _tolerant(_nothing)(RedisCache.set)
    touch = _tolerant(_false)(RedisCache.touch)
    delete = _tolerant(_false)(RedisCache.delete)
    has_key = _tolerant(_false)(RedisCache.has_key)
    get_many = _tolerant(_empty)(RedisCache.get_many)
    set_many = _tolerant(_all_failed)(RedisCache.set_many)
    delete_many = _tolerant(_nothing)(RedisCache.delete_many)
    clear = _tolerant(_false)(RedisCache.clear)
