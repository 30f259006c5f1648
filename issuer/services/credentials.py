"""Password sign-on: checking a username and password under the failed-attempt throttles, with password
hashing under a bounded concurrency per process."""

import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser, update_last_login

from .. import metrics
from ..models import AuditEvent
from . import throttles
from .audit import audit_record
from .errors import SignOnError

logger = logging.getLogger(__name__)


class InvalidCredentials(SignOnError):
    """Unknown user, wrong password or inactive user: deliberately indistinguishable."""


class LoginThrottled(SignOnError):
    """Too many failed sign-ons for this username or from this address; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class SignInBusy(SignOnError):
    """Every password-hashing slot of this process stayed taken for the whole wait; try again after
    `retry_after` seconds. Nothing was checked or counted."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class _HashingSlots:
    """The process's password-hashing slots, sized from SSO_PASSWORD_HASHING["CONCURRENCY"], and a short queue
    for them (QUEUE). A hash costs a core for a fraction of a second, and a sign-in waiting for one holds a
    gunicorn thread too: with every thread hashing or waiting, a refresh, the JWKS or the revocation list
    would queue behind a sign-in storm (and relying apps' revocation lists would go stale meanwhile). Past the
    queue a sign-in is refused at once, so the threads it would have held answer the cheap requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._size = 0
        self._semaphore = threading.BoundedSemaphore(1)
        self._waiting = 0

    def _current(self) -> threading.BoundedSemaphore:
        size = max(1, settings.SSO_PASSWORD_HASHING["CONCURRENCY"])
        with self._lock:
            if size != self._size:
                self._size, self._semaphore = size, threading.BoundedSemaphore(size)
            return self._semaphore

    def acquire(self) -> threading.BoundedSemaphore | None:
        """A taken slot (release it on the returned semaphore), or None when none freed up in time."""
        conf = settings.SSO_PASSWORD_HASHING
        semaphore = self._current()
        if semaphore.acquire(blocking=False):
            return semaphore
        with self._lock:
            if self._waiting >= conf["QUEUE"]:
                return None
            self._waiting += 1
        try:
            return semaphore if semaphore.acquire(timeout=conf["WAIT_SECONDS"]) else None
        finally:
            with self._lock:
                self._waiting -= 1


_hashing_slots = _HashingSlots()


@contextmanager
def hashing_slot() -> Iterator[None]:
    """Hold one of the process's password-hashing slots: a burst is absorbed by the queue's short wait, a storm
    is refused quickly (SignInBusy) rather than left to queue past the client's own timeout, after which the
    hash would be wasted work."""
    semaphore = _hashing_slots.acquire()
    if semaphore is None:
        logger.warning("auth event=sign_in_busy")
        raise SignInBusy(max(1, math.ceil(settings.SSO_PASSWORD_HASHING["WAIT_SECONDS"])))
    try:
        yield
    finally:
        semaphore.release()


def credentials_authenticate(*, username: str, password: str, ip: str | None = None) -> AbstractBaseUser:
    """Check a username and password. Django's ModelBackend hashes a dummy password for unknown users,
    so unknown, inactive and wrong-password attempts cost the same and fail the same way.

    Attempts are counted per username and per address (`ip`, from issuer.http.client_ip) before the
    password is checked, and a success takes its attempt back; past either limit this raises LoginThrottled,
    before the password is checked, for the rest of the window (issuer.services.throttles). When no hashing
    slot frees up in time, this raises SignInBusy (hashing_slot)."""
    # The slot is taken first, so an attempt refused as busy is not counted against anyone's budget.
    with hashing_slot():
        retry_after = throttles.attempt_begin(username=username, ip=ip)
        if retry_after is not None:
            metrics.SIGN_INS.labels(outcome="throttled").inc()
            raise LoginThrottled(retry_after)
        user = authenticate(request=None, username=username, password=password)
    if user is None or not user.is_active:
        audit_record(kind=AuditEvent.Kind.LOGIN_FAILED, username=username, ip=ip)
        metrics.SIGN_INS.labels(outcome="invalid_credentials").inc()
        raise InvalidCredentials
    throttles.attempt_succeeded(username=username, ip=ip)
    metrics.SIGN_INS.labels(outcome="ok").inc()
    # Every password sign-in (API and login page) is the admin's "Last login"; it also spends reset links.
    update_last_login(None, user)
    return user
