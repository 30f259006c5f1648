"""The background thread that keeps a relying process's copies of the issuer's keys and revocations fresh."""

import logging
import os
import threading
import time
from collections.abc import Callable

from .outages import OUTAGE_LOG_INTERVAL_SECONDS

logger = logging.getLogger(__name__)

# The refresher's wake-up bounds: never sleep past a second (so a changed setting or a stop is seen soon),
# and while a refresh is due but not yet visible, look again this often (cheap: two cache reads).
MAX_WAIT_SECONDS = 1.0
DUE_POLL_SECONDS = 0.1


def wait_seconds(*, due_in: float) -> float:
    """How long the refresher may sleep when the next refresh is due in `due_in` seconds, within bounds."""
    return min(MAX_WAIT_SECONDS, max(DUE_POLL_SECONDS, due_in))


class Refresher:
    """One daemon thread per process calling `sync` whenever `due_in` says a refresh is due."""

    def __init__(self, *, sync: Callable[[], None], due_in: Callable[[], float]) -> None:
        self._sync = sync
        self._due_in = due_in
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._thread_pid: int | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        """Start the thread unless this process already runs it."""
        pid = os.getpid()
        if self._thread_pid == pid and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread_pid == pid and self._thread is not None and self._thread.is_alive():
                return
            # A forked worker inherits the parent's thread object but not the thread: start its own.
            self._thread = threading.Thread(target=self._run, name="sso-client-refresh", daemon=True)
            self._thread_pid = pid
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it; a later `start` starts a new one."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread, self._thread_pid, self._stop = None, None, threading.Event()

    def _run(self) -> None:
        # The first failure in a row is logged with its traceback, the ones after it once per interval: a
        # refresh fails the same way ten times a second while whatever it depends on is down.
        failing_since: float | None = None
        logged_at = float("-inf")
        while not self._stop.wait(wait_seconds(due_in=self._due_in())):
            try:
                self._sync()
            except Exception as e:  # a dead refresher would silently stop revocation; log and keep going
                now = time.monotonic()
                if failing_since is None:
                    failing_since = logged_at = now
                    logger.exception("sso_client event=refresh_failed")
                elif now - logged_at >= OUTAGE_LOG_INTERVAL_SECONDS:
                    logged_at = now
                    logger.warning(
                        "sso_client event=refresh_failing error=%s failing_seconds=%.0f",
                        type(e).__name__,
                        now - failing_since,
                    )
            else:
                failing_since = None
