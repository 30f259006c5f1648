"""TEST ONLY, never deployed: the orders site with a crash point between reserving stock at products and
committing the order. Only tests/faults starts it (`gunicorn tests.faults.crash_after_reserve_wsgi`); the
production entry point, settings.wsgi, never imports it, so the hook is inert there.

After products answers the first reservation, the worker writes its process id to the file named by
FAULT_TEST_CRASH_MARKER and waits, its transaction open, for the test to kill it."""

import os
import threading
from pathlib import Path

from apps.orders import products_client
from settings.wsgi import application

__all__ = ["application"]

_stock_reserve = products_client.stock_reserve


def _reserve_then_wait_to_be_killed(**kwargs):
    unit_price = _stock_reserve(**kwargs)
    Path(os.environ["FAULT_TEST_CRASH_MARKER"]).write_text(str(os.getpid()))
    threading.Event().wait()  # forever: the test SIGKILLs this process here
    return unit_price


products_client.stock_reserve = _reserve_then_wait_to_be_killed
