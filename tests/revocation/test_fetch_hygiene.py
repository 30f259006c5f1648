"""sso_client's calls to the issuer, against a loopback HTTP server that plays the issuer or a hostile host:
only the configured issuer, over http(s), no redirects, timeouts, a deadline and a size limit; at most one
JWKS fetch per interval whatever the flood; a new key picked up on its first unknown kid (with every
concurrent request waiting for that one fetch); the last good copies kept through an outage, and logged."""

import gzip
import logging
import threading
import time
import uuid

import pytest
from django.core.cache import cache

from sso_client import clock
from sso_client.http import FetchError, fetch_json
from sso_client.state import IssuerState, UnknownKey
from tests.keys import jwks

TIMEOUT = 2.0  # generous: the machine running the tests may be busy
SHORT_TIMEOUT = 0.5  # for the tests that time a hanging or dripping server
MAX_BYTES = 4096
REFETCH = 10.0
INTERVAL = 1.0


@pytest.fixture
def issuer(settings, loopback):
    """A loopback server playing the issuer, configured as this relying app's issuer."""
    server = loopback()
    settings.SSO_CLIENT = {
        "ISSUER": server.base,
        "ISSUER_INTERNAL_URL": server.base,
        "AUDIENCE": "orders",
        "HTTP_TIMEOUT_SECONDS": TIMEOUT,
        "HTTP_MAX_BYTES": MAX_BYTES,
        "JWKS_MIN_REFETCH_SECONDS": REFETCH,
        "REVOCATION_REFRESH_SECONDS": INTERVAL,
        "BACKGROUND_REFRESH": False,
    }
    server.published = ["main"]
    server.revoked = []
    server.json_route(
        "/.well-known/openid-configuration",
        {"issuer": server.base, "jwks_uri": f"{server.base}/.well-known/jwks.json"},
    )
    server.json_route("/.well-known/jwks.json", lambda: jwks(*server.published))
    server.json_route(
        "/api/revocations/",
        lambda: {"revoked_sids": server.revoked, "kids": [f"test-{name}" for name in server.published]},
    )
    return server


@pytest.fixture(params=["local-memory", "redis"])
def site_cache(request, settings):
    """The cache the processes of one site share: local memory (one process's threads) or Redis (every
    process), where the site-wide claims are real atomic adds with whole-second expiries."""
    if request.param == "local-memory":
        yield
        return
    import redis

    url = request.getfixturevalue("redis_url")
    prefix = f"sso-test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "KEY_PREFIX": prefix}
    }
    yield
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture
def hostile(loopback):
    server = loopback()
    server.json_route("/.well-known/jwks.json", jwks("main"))
    return server


@pytest.fixture
def later(monkeypatch):
    """Move sso_client's clock forward (on top of real time, so timeouts still run)."""
    offset = [0.0]
    real_now, real_monotonic = clock.now, clock.monotonic
    monkeypatch.setattr(clock, "now", lambda: real_now() + offset[0])
    monkeypatch.setattr(clock, "monotonic", lambda: real_monotonic() + offset[0])

    def move(seconds: float) -> None:
        offset[0] += seconds

    return move


def raw_route(server, path, write):
    def handle(request):
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        write(request)

    server.routes[path] = handle


def refused(url: str) -> str:
    with pytest.raises(FetchError) as info:
        fetch_json(url)
    return str(info.value)


# ---- fetch_json --------------------------------------------------------------------------------------


def test_fetches_a_json_object_from_the_issuer(issuer):
    assert fetch_json(f"{issuer.base}/.well-known/jwks.json")["keys"][0]["kid"] == "test-main"


def test_only_the_configured_issuer_over_http(issuer, hostile):
    port = issuer.base.rsplit(":", 1)[1]
    for url in [
        f"{hostile.base}/.well-known/jwks.json",  # another host (another port is another origin)
        f"http://127.0.0.1:{port}@{hostile.base[7:]}/.well-known/jwks.json",  # userinfo: the host is the hostile one
        f"https://127.0.0.1:{port}/.well-known/jwks.json",  # another scheme
        f"ftp://127.0.0.1:{port}/.well-known/jwks.json",
        "file:///.well-known/jwks.json",
        f"http://127.0.0.1:{port}x/jwks",  # a malformed port
    ]:
        assert "refusing" in refused(url) or "malformed" in refused(url), url
    assert hostile.hits.total() == 0


def test_redirects_are_not_followed(issuer, hostile):
    def redirect(request):
        request.send_response(302)
        request.send_header("Location", f"{hostile.base}/.well-known/jwks.json")
        request.send_header("Content-Length", "0")
        request.end_headers()

    issuer.routes["/moved"] = redirect
    assert refused(f"{issuer.base}/moved") == "HTTP 302"
    assert hostile.hits.total() == 0


def test_a_declared_oversized_body_is_refused_before_it_is_read(issuer):
    def big(request):
        request.send_header("Content-Length", str(MAX_BYTES * 100))
        request.end_headers()
        request.wfile.write(b" " * MAX_BYTES * 100)

    raw_route(issuer, "/big", big)
    assert refused(f"{issuer.base}/big") == "response too large"


def test_an_undeclared_oversized_body_is_cut_off(issuer):
    def big(request):
        request.end_headers()  # no Content-Length: the body runs until the connection closes
        request.wfile.write(b'{"keys": "' + b"x" * MAX_BYTES * 10 + b'"}')

    raw_route(issuer, "/big", big)
    assert refused(f"{issuer.base}/big") == "response too large"


def test_a_compressed_bomb_is_cut_off_by_its_decoded_size(issuer):
    bomb = gzip.compress(b" " * 2_000_000)
    assert len(bomb) < MAX_BYTES

    def send(request):
        request.send_header("Content-Encoding", "gzip")
        request.send_header("Content-Length", str(len(bomb)))
        request.end_headers()
        request.wfile.write(bomb)

    raw_route(issuer, "/bomb", send)
    assert refused(f"{issuer.base}/bomb") == "response too large"


def short_timeout(settings) -> None:
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "HTTP_TIMEOUT_SECONDS": SHORT_TIMEOUT}


def test_a_server_that_never_answers_times_out(issuer, settings):
    short_timeout(settings)
    issuer.routes["/hang"] = lambda request: issuer.release.wait(10)
    started = time.monotonic()
    refused(f"{issuer.base}/hang")
    assert time.monotonic() - started < SHORT_TIMEOUT + 1.0


def test_a_server_that_drips_its_body_hits_the_deadline(issuer, settings):
    short_timeout(settings)

    def drip(request):
        request.end_headers()
        request.wfile.write(b"[")
        for _ in range(200):
            request.wfile.write(b" ")
            request.wfile.flush()
            if issuer.release.wait(0.05):
                return

    raw_route(issuer, "/drip", drip)
    started = time.monotonic()
    assert refused(f"{issuer.base}/drip") == "response too slow"
    assert time.monotonic() - started < SHORT_TIMEOUT + 1.0


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b'"a string"', b"[" * 100_000 + b"]" * 100_000])
def test_anything_but_a_json_object_is_refused(issuer, body):
    def send(request):
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    raw_route(issuer, "/odd", send)
    refused(f"{issuer.base}/odd")


def test_an_error_status_is_refused(issuer):
    issuer.fail_route("/down", 503)
    assert refused(f"{issuer.base}/down") == "HTTP 503"


def test_an_unreachable_issuer_is_a_fetch_error(settings, loopback):
    server = loopback()
    base = server.base
    server.server.shutdown()
    server.server.server_close()
    settings.SSO_CLIENT = {"ISSUER": base, "ISSUER_INTERNAL_URL": base, "HTTP_TIMEOUT_SECONDS": TIMEOUT}
    refused(f"{base}/.well-known/jwks.json")


# ---- IssuerState: JWKS -----------------------------------------------------------------------------------


def started(issuer) -> IssuerState:
    state = IssuerState()
    state.ensure_started()
    assert state.is_published("test-main")
    return state


def flood(state: IssuerState, count: int, threads: int = 8) -> int:
    """Present `count` made-up kids from several threads; return how many were (wrongly) accepted."""
    accepted = []

    def worker(n: int) -> None:
        for _ in range(n):
            try:
                state.key_for(f"random-{uuid.uuid4().hex}")
                accepted.append(1)
            except UnknownKey:
                pass

    pool = [threading.Thread(target=worker, args=(count // threads,)) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=30)
    return len(accepted)


def test_a_flood_of_random_kids_costs_at_most_one_jwks_fetch_per_interval(issuer, later):
    state = started(issuer)
    before = issuer.hits["/.well-known/jwks.json"]
    assert flood(state, 400) == 0
    assert issuer.hits["/.well-known/jwks.json"] - before == 1
    later(REFETCH / 2)
    assert flood(state, 400) == 0
    assert issuer.hits["/.well-known/jwks.json"] - before == 1, "still within the interval"
    later(REFETCH / 2 + 0.1)
    assert flood(state, 400) == 0
    assert issuer.hits["/.well-known/jwks.json"] - before == 2, "one more in the next interval"


def test_the_limit_is_per_site_not_only_per_process(site_cache, issuer, later):
    # Site-wide claims are per window of REFETCH seconds (sso_client.fetch_claims.window_key): start at the
    # beginning of one, so the four floods below fall in the same window on however slow a machine.
    later(REFETCH - clock.now() % REFETCH + 0.05)
    processes = [started(issuer) for _ in range(4)]  # four processes of one site share the cache
    before = issuer.hits["/.well-known/jwks.json"]
    for state in processes:
        assert flood(state, 80) == 0
    assert issuer.hits["/.well-known/jwks.json"] - before == 1


def patient(settings) -> None:
    """A timeout well beyond the deliberately slow answers below, on however loaded a machine."""
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "HTTP_TIMEOUT_SECONDS": 5.0}


def test_a_new_key_is_picked_up_on_its_first_unknown_kid_by_every_concurrent_request(issuer, settings):
    patient(settings)
    state = started(issuer)
    issuer.published = ["main", "next"]
    issuer.json_route("/.well-known/jwks.json", lambda: jwks(*issuer.published), delay=0.3)
    before = issuer.hits["/.well-known/jwks.json"]
    barrier, found, failed = threading.Barrier(8), [], []

    def request() -> None:
        barrier.wait(timeout=10)
        try:
            found.append(state.key_for("test-next"))
        except UnknownKey:
            failed.append(1)

    pool = [threading.Thread(target=request) for _ in range(8)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=30)
    assert (len(found), len(failed)) == (8, 0), "requests that arrive during the fetch wait for it"
    assert issuer.hits["/.well-known/jwks.json"] - before == 1


def test_a_process_that_sees_a_new_kid_while_another_fetches_takes_that_fetch(site_cache, issuer, settings):
    patient(settings)
    first, second = started(issuer), started(issuer)
    issuer.published = ["main", "next"]
    arrived = threading.Event()

    def slow_jwks(request):
        arrived.set()
        issuer.release.wait(0.25)
        issuer.json_route("/.well-known/jwks.json", lambda: jwks(*issuer.published))
        issuer.routes["/.well-known/jwks.json"](request)

    issuer.routes["/.well-known/jwks.json"] = slow_jwks
    before = issuer.hits["/.well-known/jwks.json"]
    result = {}
    fetching = threading.Thread(target=lambda: result.setdefault("first", first.key_for("test-next")))
    fetching.start()
    assert arrived.wait(5)
    assert second.key_for("test-next") is not None, "waits for the fetch in flight instead of refusing"
    fetching.join(timeout=10)
    assert result["first"] is not None
    assert issuer.hits["/.well-known/jwks.json"] - before == 1


def test_a_rotation_is_learned_from_the_revocation_list_without_an_unknown_kid(issuer, later):
    state = started(issuer)
    issuer.published = ["next", "main"]
    later(INTERVAL)
    state.sync()
    assert state.is_published("test-next") and state.is_published("test-main")
    # ... and a retirement too: the retired key stops verifying within the interval, not at the JWKS max age.
    issuer.published = ["next"]
    later(REFETCH)
    state.sync()
    assert not state.is_published("test-main")
    assert state.is_published("test-next")


def test_discovery_pointing_the_jwks_at_another_host_is_refused(issuer, hostile, caplog):
    issuer.json_route(
        "/.well-known/openid-configuration",
        {"issuer": issuer.base, "jwks_uri": f"{hostile.base}/.well-known/jwks.json"},
    )
    state = IssuerState()
    with caplog.at_level(logging.WARNING, logger="sso_client"):
        state.sync()
    assert not state.jwks.keys
    assert hostile.hits.total() == 0
    assert "jwks_fetch_failed" in caplog.text
    assert cache.get("sso_client:discovery") is None, "a refused document is not kept"


def test_discovery_naming_another_issuer_is_refused(issuer):
    issuer.json_route(
        "/.well-known/openid-configuration",
        {"issuer": "http://evil.example", "jwks_uri": f"{issuer.base}/.well-known/jwks.json"},
    )
    state = IssuerState()
    state.sync()
    assert not state.jwks.keys
    assert issuer.hits["/.well-known/jwks.json"] == 0


@pytest.mark.parametrize("broken", [{"keys": []}, {"keys": "main"}, {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}])
def test_a_jwks_without_a_usable_key_does_not_wipe_the_last_good_one(issuer, later, broken):
    state = started(issuer)
    issuer.json_route("/.well-known/jwks.json", broken)
    later(REFETCH)
    with pytest.raises(UnknownKey):
        state.key_for("test-other")  # forces a refetch
    assert state.is_published("test-main")
    assert state.key_for("test-main")


# ---- IssuerState: the revocation list and outages -------------------------------------------------------


def test_the_revocation_list_is_fetched_once_per_interval_per_site(site_cache, issuer, later):
    processes = [started(issuer) for _ in range(3)]
    before = issuer.hits["/api/revocations/"]
    issuer.revoked = ["sid-1"]
    for _ in range(5):
        for state in processes:
            state.sync()
    assert issuer.hits["/api/revocations/"] == before, "still fresh"
    later(INTERVAL)
    for _ in range(5):
        for state in processes:
            state.sync()
    assert issuer.hits["/api/revocations/"] - before == 1
    assert all(state.is_revoked("sid-1") for state in processes)


def test_the_refresher_wakes_when_the_list_is_due(issuer, later):
    state = started(issuer)
    assert 0.5 < state.seconds_until_due() <= INTERVAL
    later(INTERVAL * 0.75)
    assert state.seconds_until_due() == pytest.approx(INTERVAL * 0.25, abs=0.1)
    later(INTERVAL)
    assert state.seconds_until_due() == 0.1, "due: look again soon, not a whole tick later"


def test_an_issuer_outage_keeps_the_last_good_keys_and_list_and_says_so(issuer, later, caplog):
    issuer.revoked = ["revoked-before-outage"]
    state = started(issuer)
    assert state.is_revoked("revoked-before-outage")
    for path in ("/.well-known/jwks.json", "/api/revocations/", "/.well-known/openid-configuration"):
        issuer.fail_route(path)
    cache.delete("sso_client:discovery")
    with caplog.at_level(logging.INFO, logger="sso_client"):
        for _ in range(3):
            later(400)  # past the JWKS max age and many revocation intervals
            state.sync()
        with pytest.raises(UnknownKey):
            state.key_for("test-unknown")
    assert state.key_for("test-main"), "tokens of the last good keys still verify"
    assert state.is_revoked("revoked-before-outage"), "the last good revocation list still applies"
    failures = [r.getMessage() for r in caplog.records if "revocations_fetch_failed" in r.getMessage()]
    assert len(failures) == 3
    assert "serving=last_good" in failures[-1] and "stale_seconds=1200" in failures[-1]
    assert "jwks_fetch_failed" in caplog.text and "serving=last_good keys=1" in caplog.text

    # The issuer comes back: the list is current again, and the recovery is logged.
    issuer.revoked = ["revoked-during-outage"]
    issuer.json_route("/api/revocations/", lambda: {"revoked_sids": issuer.revoked, "kids": ["test-main"]})
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sso_client"):
        later(INTERVAL)
        state.sync()
    assert state.is_revoked("revoked-during-outage")
    assert not state.is_revoked("revoked-before-outage")
    assert "revocations_recovered" in caplog.text


def test_a_malformed_revocation_list_keeps_the_last_good_one(issuer, later):
    issuer.revoked = ["sid-1"]
    state = started(issuer)
    issuer.json_route("/api/revocations/", {"revoked_sids": "sid-1"})
    later(INTERVAL)
    state.sync()
    assert state.is_revoked("sid-1")


def test_a_revocation_list_past_the_general_size_limit_is_still_read(issuer, later):
    """Thousands of sessions revoked at once (one user logging out everywhere) make a list larger than the
    256 KB any other issuer answer may be; it must still arrive, or every revocation would stall."""
    issuer.revoked = ["sid-1"]
    state = started(issuer)
    many = [f"burst-{n:06d}-{'x' * 16}" for n in range(12_000)]  # about 360 KB of JSON
    issuer.json_route("/api/revocations/", {"revoked_sids": many, "count": len(many)})
    later(INTERVAL)
    state.sync()
    assert state.is_revoked("burst-011999-" + "x" * 16)


def test_while_the_issuer_is_down_it_is_asked_once_per_interval(site_cache, issuer, later):
    state = started(issuer)
    issuer.fail_route("/api/revocations/")
    before = issuer.hits["/api/revocations/"]
    later(INTERVAL)
    later(INTERVAL - clock.now() % INTERVAL + 0.02)  # the start of a claim window (see the per-site test)
    for _ in range(10):
        state.sync()
    assert issuer.hits["/api/revocations/"] - before == 1
