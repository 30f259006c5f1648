"""The refresher when what it depends on keeps failing: a traceback for the first failure in a row, then one
line per interval, never a traceback per attempt (ten a second while the cache or the issuer is down)."""

import logging
import threading

from sso_client.refresher import Refresher


def test_a_failing_refresh_is_one_traceback_not_one_per_attempt(caplog):
    attempts = 0
    failed_enough = threading.Event()

    def sync() -> None:
        nonlocal attempts
        attempts += 1
        if attempts >= 5:
            failed_enough.set()
        raise ConnectionError("cache down")

    refresher = Refresher(sync=sync, due_in=lambda: 0.0)
    with caplog.at_level(logging.WARNING, logger="sso_client.refresher"):
        refresher.start()
        assert failed_enough.wait(timeout=10)
        refresher.stop()
    failures = [record for record in caplog.records if record.name == "sso_client.refresher"]
    assert attempts >= 5
    assert len(failures) == 1 and failures[0].exc_info is not None
