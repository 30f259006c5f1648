"""A dependency that is down, logged as one line per interval instead of one line (or traceback) per attempt."""

import logging
import threading
import time

# One warning per dependency and process this often while it stays down, with the count of failures since.
OUTAGE_LOG_INTERVAL_SECONDS = 10.0


class OutageLog:
    """Tracks one dependency (the cache, the database) of this process: `failed` on every failed call, `ok` on
    every good one. Logs `<name> unavailable` at the first failure and then at most once per interval, and
    `<name> recovered` once when it answers again."""

    def __init__(self, logger: logging.Logger, name: str) -> None:
        self._logger = logger
        self._name = name
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._logged_at = float("-inf")
        self._failures = 0

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    def failed(self, error: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures += 1
            if self._down_since is None:
                self._down_since = now
            if now - self._logged_at < OUTAGE_LOG_INTERVAL_SECONDS:
                return
            failures, self._failures, self._logged_at = self._failures, 0, now
            down_for = now - self._down_since
        self._logger.warning(
            "%s unavailable event=%s_unavailable error=%s failures=%d down_seconds=%.1f",
            self._name,
            self._name,
            type(error).__name__,
            failures,
            down_for,
        )

    def ok(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            down_for, self._down_since, self._failures = time.monotonic() - self._down_since, None, 0
            self._logged_at = float("-inf")
        self._logger.info("%s recovered event=%s_recovered down_seconds=%.1f", self._name, self._name, down_for)
