"""Back-channel logout: ending a browser sign-on ends its client sessions, each client with a back-channel URI
is owed a logout token in the same transaction, and the token reaches a real HTTP receiver after the commit,
verified as a client would, retried when refused, given up after the last attempt, never blocking a sign-out."""

from collections.abc import Iterator
from datetime import timedelta

import jwt
import pytest
from django.core.management import call_command
from django.db import transaction

from issuer import clock
from issuer.models import AuditEvent, BackchannelLogout, RelyingApp, RevokedSession, SSOSession
from issuer.services import backchannel
from issuer.services.sessions import (
    RefreshRejected,
    session_refresh,
    session_revoke,
    session_start,
    user_sessions_revoke,
)
from issuer.signing.oidc import (
    BACKCHANNEL_LOGOUT_EVENT,
    LOGOUT_TOKEN_TYP,
)
from tests.issuer.conftest import PASSWORD
from tests.metrics import sample, scrape
from tests.servers import wait_until

from .receiver import Receiver, join_delivery_threads, verified_logout_token


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def client_app(name: str, *, backchannel_uri: str = "") -> RelyingApp:
    return RelyingApp.objects.create(
        name=name, audience=name.lower(), origin="https://shop.example.net", backchannel_logout_uri=backchannel_uri
    )


def client_session(*, browser: SSOSession, app: RelyingApp) -> SSOSession:
    """What an authorization-code exchange makes (OIDC.md): a session of the client's own, linked to the sign-on."""
    return SSOSession.objects.create(
        user=browser.user, client=app, browser_session=browser, audience=app.audience, expires_at=browser.expires_at
    )


def move_clock(monkeypatch, by: timedelta) -> None:
    later = clock.now() + by
    monkeypatch.setattr(clock, "now", lambda: later)


@pytest.fixture
def signed_on(users, receiver):
    """bob's browser sign-on with two client sessions: one client with a back-channel URI, one without."""
    browser = session_start(user=users["bob"]).session
    shop = client_app("Shop", backchannel_uri=receiver.url)
    blog = client_app("Blog")
    return {
        "browser": browser,
        "shop": client_session(browser=browser, app=shop),
        "blog": client_session(browser=browser, app=blog),
    }


def test_ending_a_sign_on_ends_its_client_sessions_with_one_notice_per_registered_client(signed_on):
    browser, shop, blog = signed_on["browser"], signed_on["shop"], signed_on["blog"]
    assert session_revoke(session=browser, reason=SSOSession.RevokedReason.LOGOUT)
    for client_session_row in (shop, blog):
        client_session_row.refresh_from_db()
        assert client_session_row.revoked_reason == SSOSession.RevokedReason.SIGNED_OUT
    assert set(RevokedSession.objects.values_list("sid", flat=True)) == {browser.sid, shop.sid, blog.sid}
    notices = list(BackchannelLogout.objects.all())
    assert [(n.sid, n.sub, n.client.audience) for n in notices] == [(shop.sid, str(browser.user_id), "shop")]
    assert notices[0].delivered_at is None and notices[0].attempts == 0


def test_a_sign_out_that_rolls_back_owes_nothing(signed_on):
    with pytest.raises(RuntimeError), transaction.atomic():
        session_revoke(session=signed_on["browser"], reason=SSOSession.RevokedReason.LOGOUT)
        raise RuntimeError("the request failed after the revocation")
    assert not BackchannelLogout.objects.exists()
    signed_on["shop"].refresh_from_db()
    assert signed_on["shop"].is_active


def test_logout_everywhere_keeps_its_reason_and_its_count(signed_on):
    ended = user_sessions_revoke(user=signed_on["browser"].user, reason=SSOSession.RevokedReason.LOGOUT_EVERYWHERE)
    assert ended == 3
    reasons = set(SSOSession.objects.values_list("revoked_reason", flat=True))
    assert reasons == {SSOSession.RevokedReason.LOGOUT_EVERYWHERE}
    assert BackchannelLogout.objects.filter(sid=signed_on["shop"].sid).count() == 1


def test_a_password_change_notifies_the_clients(signed_on, django_capture_on_commit_callbacks):
    user = signed_on["browser"].user
    with django_capture_on_commit_callbacks() as revocations:
        user.set_password("a new password for bob")
        user.save()
    for revocation in revocations:
        revocation()
    notice = BackchannelLogout.objects.get()
    assert notice.sid == signed_on["shop"].sid


def test_refresh_reuse_on_a_client_session_notifies_its_client(users, receiver):
    pair = session_start(user=users["bob"])
    SSOSession.objects.filter(pk=pair.session.pk).update(client=client_app("Shop", backchannel_uri=receiver.url))
    session_refresh(raw_refresh=session_refresh(raw_refresh=pair.refresh).refresh)  # the successor used
    with pytest.raises(RefreshRejected, match="reused"):
        session_refresh(raw_refresh=pair.refresh)
    assert BackchannelLogout.objects.get().sid == pair.session.sid


def test_the_command_delivers_a_token_that_verifies(signed_on, receiver):
    session_revoke(session=signed_on["browser"], reason=SSOSession.RevokedReason.LOGOUT)
    # The process that signed out ended before delivering (no commit hook ran in this test): the row survived.
    assert receiver.received == []
    call_command("send_backchannel_logouts")
    [received] = receiver.received
    assert received.path == "/sso/backchannel-logout/"
    assert received.content_type == "application/x-www-form-urlencoded"
    raw = received.form["logout_token"][0]
    header = jwt.get_unverified_header(raw)
    assert header["typ"] == LOGOUT_TOKEN_TYP and header["alg"] == "RS256"
    shop = signed_on["shop"]
    claims = verified_logout_token(raw, audience=shop.client.client_id)
    assert claims["sid"] == shop.sid and claims["sub"] == str(shop.user_id)
    assert claims["events"] == {BACKCHANNEL_LOGOUT_EVENT: {}}
    assert "nonce" not in claims
    assert claims["exp"] - claims["iat"] == 120
    notice = BackchannelLogout.objects.get()
    assert notice.delivered_at is not None and notice.attempts == 1
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.BACKCHANNEL_LOGOUT_SENT, sid=shop.sid).exists()
    call_command("send_backchannel_logouts")
    assert len(receiver.received) == 1


def test_a_refusing_receiver_is_retried_after_its_backoff(signed_on, receiver, monkeypatch):
    receiver.statuses = [500, 200]
    session_revoke(session=signed_on["browser"], reason=SSOSession.RevokedReason.LOGOUT)
    call_command("send_backchannel_logouts")
    notice = BackchannelLogout.objects.get()
    assert (notice.attempts, notice.last_error, notice.delivered_at) == (1, "HTTP 500", None)
    call_command("send_backchannel_logouts")
    assert len(receiver.received) == 1  # not due yet
    move_clock(monkeypatch, backchannel.BACKOFF[0])
    call_command("send_backchannel_logouts")
    notice.refresh_from_db()
    assert len(receiver.received) == 2
    assert notice.delivered_at is not None and notice.attempts == 2 and notice.last_error == ""
    # Each attempt signs a token of its own (the first one may have expired by the retry).
    assert len(set(receiver.tokens())) == 2


def test_a_receiver_that_never_accepts_is_given_up_after_the_last_attempt(signed_on, receiver, monkeypatch):
    receiver.statuses = [503]
    session_revoke(session=signed_on["browser"], reason=SSOSession.RevokedReason.LOGOUT)
    for wait in (timedelta(0), *backchannel.BACKOFF):
        move_clock(monkeypatch, wait)
        call_command("send_backchannel_logouts")
    notice = BackchannelLogout.objects.get()
    assert len(receiver.received) == backchannel.MAX_ATTEMPTS == notice.attempts
    assert notice.gave_up_at is not None and notice.delivered_at is None
    failed = AuditEvent.objects.get(kind=AuditEvent.Kind.BACKCHANNEL_LOGOUT_FAILED)
    assert failed.sid == signed_on["shop"].sid and "HTTP 503" in failed.detail
    move_clock(monkeypatch, timedelta(days=1))
    call_command("send_backchannel_logouts")
    assert len(receiver.received) == backchannel.MAX_ATTEMPTS


def test_a_redirect_is_not_followed(signed_on, receiver):
    receiver.statuses = [307, 200]
    receiver.redirect_to = receiver.url + "elsewhere/"
    session_revoke(session=signed_on["browser"], reason=SSOSession.RevokedReason.LOGOUT)
    call_command("send_backchannel_logouts")
    assert [received.path for received in receiver.received] == ["/sso/backchannel-logout/"]
    assert BackchannelLogout.objects.get().last_error == "HTTP 307"


def test_an_unreachable_receiver_is_an_error_to_retry(signed_on, receiver):
    RelyingApp.objects.filter(audience="shop").update(backchannel_logout_uri="http://127.0.0.1:9/logout/")
    session_revoke(session=signed_on["browser"], reason=SSOSession.RevokedReason.LOGOUT)
    call_command("send_backchannel_logouts")
    notice = BackchannelLogout.objects.get()
    assert notice.last_error == "ConnectionError" and notice.next_attempt_at > clock.now()


def test_two_processes_never_claim_the_same_attempt(signed_on):
    session_revoke(session=signed_on["browser"], reason=SSOSession.RevokedReason.LOGOUT)
    # Both passes read the row while it was due; only the first conditional update matches.
    first, second = BackchannelLogout.objects.get(), BackchannelLogout.objects.get()
    assert backchannel._claim(first, now=clock.now())
    assert not backchannel._claim(second, now=clock.now())
    assert BackchannelLogout.objects.get().attempts == 1


def test_a_last_attempt_cut_short_by_a_dying_process_is_given_up_not_repeated(signed_on, receiver, monkeypatch):
    session_revoke(session=signed_on["browser"], reason=SSOSession.RevokedReason.LOGOUT)
    BackchannelLogout.objects.update(attempts=backchannel.MAX_ATTEMPTS, last_error="HTTP 500")
    call_command("send_backchannel_logouts")
    assert receiver.received == []
    assert BackchannelLogout.objects.get().gave_up_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_hung_receiver_does_not_hold_up_the_sign_out(apps, users, client):
    hung = Receiver(stall=True).start()
    try:
        client.post("/login/", {"username": "bob", "password": PASSWORD})
        browser = SSOSession.objects.get(user=users["bob"])
        shop = client_session(browser=browser, app=client_app("Shop", backchannel_uri=hung.url))
        response = client.post("/session/logout/")
        assert response.status_code == 302
        # The sign-out has answered while the notice is still in flight: sent, its answer not come, neither
        # failed nor delivered. (Read once the thread has sent it: the test database, SQLite in memory, locks a
        # table being written rather than waiting, so a read beside the thread's claim could fail that claim.)
        assert wait_until(lambda: len(hung.received) == 1, timeout=5)
        notice = BackchannelLogout.objects.get(sid=shop.sid)
        assert notice.delivered_at is None and notice.last_error == ""
        join_delivery_threads()
        assert BackchannelLogout.objects.get(sid=shop.sid).last_error == "ReadTimeout"
        assert len(hung.received) == 1
    finally:
        hung.stop()
        join_delivery_threads()


@pytest.mark.django_db(transaction=True)
def test_a_sign_out_delivers_in_the_background_and_picks_up_notices_left_earlier(apps, users, receiver):
    earlier = session_start(user=users["carol"]).session
    left = client_session(browser=earlier, app=client_app("Shop", backchannel_uri=receiver.url))
    # A process that ended right after its commit: the row is there, nobody delivered it.
    BackchannelLogout.objects.create(
        client=left.client, sid=left.sid, sub=str(left.user_id), next_attempt_at=clock.now()
    )
    browser = session_start(user=users["bob"]).session
    now_ending = client_session(browser=browser, app=left.client)
    session_revoke(session=browser, reason=SSOSession.RevokedReason.LOGOUT)
    join_delivery_threads()
    assert BackchannelLogout.objects.filter(delivered_at__isnull=False).count() == 2
    sids = {verified_logout_token(raw, audience=left.client.client_id)["sid"] for raw in receiver.tokens()}
    assert sids == {left.sid, now_ending.sid}


def _deliveries(client, outcome: str) -> float:
    return sample(scrape(client), "sso_issuer_backchannel_deliveries_total", outcome=outcome)


@pytest.mark.django_db(transaction=True)
def test_the_delivery_thread_retries_a_refused_notice_itself_when_the_retry_is_due_soon(
    apps, users, settings, monkeypatch, client
):
    settings.SSO_ISSUER = {**settings.SSO_ISSUER, "BACKCHANNEL_RETRY_WAIT_SECONDS": 5}
    monkeypatch.setattr(backchannel, "BACKOFF", (timedelta(seconds=0.2),) * len(backchannel.BACKOFF))
    flaky = Receiver(500, 204).start()
    before = {outcome: _deliveries(client, outcome) for outcome in ("ok", "retry")}
    try:
        browser = session_start(user=users["bob"]).session
        shop = client_session(browser=browser, app=client_app("Shop", backchannel_uri=flaky.url))
        session_revoke(session=browser, reason=SSOSession.RevokedReason.LOGOUT)
        join_delivery_threads()
        # No cron and no second sign-out: the thread waited for the retry and made it.
        assert len(flaky.received) == 2
        notice = BackchannelLogout.objects.get(sid=shop.sid)
        assert notice.delivered_at is not None and notice.attempts == 2
        # What operators see (issuer.metrics): one refused attempt, then one delivery.
        assert {outcome: _deliveries(client, outcome) - before[outcome] for outcome in before} == {"ok": 1, "retry": 1}
    finally:
        flaky.stop()
