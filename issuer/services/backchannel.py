"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the notices owed to clients whose sessions
ended, written in the transaction that ends them and delivered after it, in the background, retried with
backoff and given up after a bounded number of attempts.

A notice is a BackchannelLogout row, so a process that dies between the sign-out and the delivery loses
nothing: the next delivery pass (another sign-out's, or `manage.py send_backchannel_logouts` from cron)
picks it up. Passes claim each row with a conditional UPDATE, so two processes never send the same notice at
the same time, on SQLite as on PostgreSQL."""

import logging
import secrets
import threading
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min

from .. import clock, metrics
from ..models import AuditEvent, BackchannelLogout, RelyingApp, SSOSession
from ..signing.oidc import BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_TYP, jwt_sign
from .audit import audit_record

logger = logging.getLogger(__name__)

# Waits between attempts; after the last one the notice is given up (the client still learns of the session's
# end through the revocation list, within its refresh interval, for as long as its tokens live).
BACKOFF = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# A client that does not answer within this holds up only the background pass, never a sign-out.
DELIVERY_TIMEOUT_SECONDS = 2
LOGOUT_TOKEN_LIFETIME = timedelta(minutes=2)
# Notices read at a time by a delivery pass.
BATCH_SIZE = 50
DELIVERED_STATUSES = (200, 204)


def backchannel_logout_enqueue(*, session: SSOSession) -> None:
    """Owe `session`'s client a logout token, if it registered a back-channel logout URI. Called inside the
    transaction that ends the session (issuer.services.sessions.session_revoke): the row commits with the
    revocation or not at all; delivery starts after the commit."""
    if session.client_id is None:
        return
    registered = RelyingApp.objects.filter(pk=session.client_id).exclude(backchannel_logout_uri="").exists()
    if not registered:
        return
    BackchannelLogout.objects.create(
        client_id=session.client_id, sid=session.sid, sub=str(session.user_id), next_attempt_at=clock.now()
    )
    transaction.on_commit(backchannel_deliver_in_background)


def logout_token(*, notice: BackchannelLogout) -> str:
    """The signed logout token for one notice (section 2.4): no nonce, the back-channel event, the session's sid."""
    now = clock.now()
    claims = {
        "aud": notice.client.client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + LOGOUT_TOKEN_LIFETIME).timestamp()),
        "jti": secrets.token_urlsafe(16),
        "sid": notice.sid,
        "sub": notice.sub,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    return jwt_sign(claims, typ=LOGOUT_TOKEN_TYP)


def backchannel_logouts_deliver() -> int:
    """Deliver the notices that are due, including those left by other processes, a batch at a time until
    none is due; how many were delivered."""
    delivered = 0
    while True:
        now = clock.now()
        due = list(
            BackchannelLogout.objects.filter(
                delivered_at__isnull=True, gave_up_at__isnull=True, next_attempt_at__lte=now
            )
            .select_related("client")
            .order_by("next_attempt_at")[:BATCH_SIZE]
        )
        # A claimed notice is due again only at its retry time, so each batch reads new rows.
        delivered += sum(_attempt(notice) for notice in due if _claim(notice, now=now))
        if len(due) < BATCH_SIZE:
            return delivered


def _claim(notice: BackchannelLogout, *, now: datetime) -> bool:
    """Take the notice for this attempt, or learn that another process took it. The UPDATE matches only the
    attempt count read, so of two passes that read the same due row exactly one changes it. It also books the
    retry: a process that dies mid-send leaves the notice due again then, not lost and not sent twice at once."""
    pending = BackchannelLogout.objects.filter(
        pk=notice.pk, attempts=notice.attempts, delivered_at__isnull=True, gave_up_at__isnull=True
    )
    if notice.attempts >= MAX_ATTEMPTS:
        # Its last attempt was claimed by a process that died before recording the outcome.
        if pending.update(gave_up_at=now):
            _record_given_up(notice)
        return False
    retry_at = now + BACKOFF[min(notice.attempts, len(BACKOFF) - 1)]
    if not pending.update(attempts=notice.attempts + 1, next_attempt_at=retry_at):
        return False
    notice.attempts += 1
    notice.next_attempt_at = retry_at
    return True


def _attempt(notice: BackchannelLogout) -> bool:
    """One POST of the logout token (form-encoded, section 2.5). Redirects are not followed: the token goes to
    the registered URI or nowhere."""
    try:
        with requests.post(
            notice.client.backchannel_logout_uri,
            data={"logout_token": logout_token(notice=notice)},
            timeout=DELIVERY_TIMEOUT_SECONDS,
            allow_redirects=False,
            stream=True,
        ) as response:
            status = response.status_code
    except requests.RequestException as e:
        error = type(e).__name__
    else:
        if status in DELIVERED_STATUSES:
            BackchannelLogout.objects.filter(pk=notice.pk).update(delivered_at=clock.now(), last_error="")
            _record(notice, kind=AuditEvent.Kind.BACKCHANNEL_LOGOUT_SENT)
            metrics.BACKCHANNEL_DELIVERIES.labels(outcome="ok").inc()
            return True
        error = f"HTTP {status}"
    if notice.attempts >= MAX_ATTEMPTS:
        BackchannelLogout.objects.filter(pk=notice.pk).update(gave_up_at=clock.now(), last_error=error)
        _record_given_up(notice, error=error)
        metrics.BACKCHANNEL_DELIVERIES.labels(outcome="given_up").inc()
    else:
        metrics.BACKCHANNEL_DELIVERIES.labels(outcome="retry").inc()
        BackchannelLogout.objects.filter(pk=notice.pk).update(last_error=error)
        logger.info(
            "auth event=backchannel_retry client=%s sid=%s attempts=%d error=%s",
            notice.client.client_id,
            notice.sid,
            notice.attempts,
            error,
        )
    return False


def _record_given_up(notice: BackchannelLogout, *, error: str = "") -> None:
    _record(notice, kind=AuditEvent.Kind.BACKCHANNEL_LOGOUT_FAILED, error=error or notice.last_error)


def _record(notice: BackchannelLogout, *, kind: str, error: str = "") -> None:
    detail = f"client={notice.client.client_id} attempts={notice.attempts}"
    audit_record(kind=kind, sid=notice.sid, detail=f"{detail} error={error}" if error else detail)


def next_retry_in() -> float | None:
    """Seconds until the earliest pending notice is due again, when that is within the retry wait
    (SSO_ISSUER["BACKCHANNEL_RETRY_WAIT_SECONDS"]); None when nothing is pending that soon."""
    horizon = settings.SSO_ISSUER["BACKCHANNEL_RETRY_WAIT_SECONDS"]
    earliest = BackchannelLogout.objects.filter(delivered_at__isnull=True, gave_up_at__isnull=True).aggregate(
        due=Min("next_attempt_at")
    )["due"]
    if earliest is None:
        return None
    wait = max(0.0, (earliest - clock.now()).total_seconds())
    return wait if wait <= horizon else None


class _Worker:
    """This process's one delivery thread: a pass runs while notices keep being committed, and the thread then
    waits for the retries due within the retry wait (5 s, 30 s, 2 min by default), so a client that was down for
    a moment hears of the sign-out without cron; later retries are left to the next pass (another sign-out's, or
    `manage.py send_backchannel_logouts`). A commit during a pass or a wait asks for another pass at once
    instead of starting a second thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.woken = threading.Event()
        self.running = False

    def wake(self) -> None:
        with self.lock:
            self.woken.set()
            if self.running:
                return
            self.running = True
        threading.Thread(target=self._run, name="backchannel-logout", daemon=True).start()

    def _run(self) -> None:
        try:
            while True:
                self.woken.clear()
                backchannel_logouts_deliver()
                wait = next_retry_in()
                with self.lock:
                    if wait is None and not self.woken.is_set():
                        self.running = False
                        return
                if wait is not None:
                    self.woken.wait(wait)
        finally:
            with self.lock:
                self.running = False
            connection.close()


_worker = _Worker()


def backchannel_deliver_in_background() -> None:
    """Start (or ask for another) delivery pass in this process's background thread, and return at once."""
    _worker.wake()
