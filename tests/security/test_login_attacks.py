"""Attacks on the issuer's sign-on over HTTP: password guessing against one account and from one address
(also with a forged X-Forwarded-For), user enumeration by answer and by timing, claim and log injection
through a username, and open redirects through the login page's `next`."""

import re
import statistics
import subprocess
from urllib.parse import urljoin, urlsplit

import jwt
import pytest
import requests

from tests.security.conftest import (
    ENUMERATION_TRIES,
    FAILURES_PER_IP,
    FAILURES_PER_USERNAME,
    NASTY_USERNAMES,
    PASSWORD,
    SERVICE_CLIENT,
    assert_refused,
)
from tests.servers import GUNICORN, ROOT, free_port, stop_process, wait_for_port, wait_until

WRONG = "not-the-password"


def assert_throttled(response: requests.Response) -> None:
    # No password is hashed for a throttled attempt, so it is fast too.
    assert_refused(response, 429)
    assert response.json()["code"] == "throttled"
    assert 0 < int(response.headers["Retry-After"]) <= 600


def service_token(ss, client_id: str, secret: str, *, ip: str) -> requests.Response:
    return requests.post(
        f"{ss.internal['issuer']}/api/service-token/",
        json={"client_id": client_id, "client_secret": secret, "audience": "products"},
        headers={"X-Forwarded-For": ip, "Accept": "application/json"},
        timeout=30,
    )


def test_guessing_a_service_client_secret_is_throttled_per_address_and_locks_nobody_out(security_stack):
    ss = security_stack
    # Guesses from many addresses do not lock the client out: its secret is long and random, and a
    # per-client lockout would let anyone stop its service by guessing badly.
    for _ in range(FAILURES_PER_USERNAME + 2):
        assert_refused(service_token(ss, SERVICE_CLIENT, WRONG, ip=ss.client_ip()), 401, seconds=10)
    assert service_token(ss, SERVICE_CLIENT, PASSWORD, ip=ss.client_ip()).status_code == 200
    # Unknown client ids from one address spend that address's budget (each one costs the issuer a hash).
    attacker = ss.client_ip()
    for n in range(FAILURES_PER_IP):
        assert_refused(service_token(ss, f"ghost-client-{n}", WRONG, ip=attacker), 401, seconds=10)
    assert_throttled(service_token(ss, f"ghost-client-{FAILURES_PER_IP}", WRONG, ip=attacker))


def test_brute_force_against_one_account_is_throttled_whatever_the_address(security_stack):
    ss = security_stack
    for _ in range(FAILURES_PER_USERNAME):
        assert_refused(ss.login("victim-brute", WRONG, ip=ss.client_ip()), 401, seconds=10)
    # Each guess came from a new address, yet the account's budget is spent.
    assert_throttled(ss.login("victim-brute", WRONG, ip=ss.client_ip()))
    # The right password does not get through either: a lockout that answered it would be an oracle.
    assert_throttled(ss.login("victim-brute", PASSWORD, ip=ss.client_ip()))
    # Case and width variants of the name share its budget.
    assert_throttled(ss.login("VICTIM-BRUTE", WRONG, ip=ss.client_ip()))
    assert_throttled(ss.login("ｖｉｃｔｉｍ-brute", WRONG, ip=ss.client_ip()))
    # Other accounts are unaffected.
    assert ss.login("bob", PASSWORD, ip=ss.client_ip()).status_code == 200


# More cache writes than the local-memory cache holds (MAX_ENTRIES 300): each renewal writes two entries.
EVICTING_RENEWALS = 200


def test_flooding_the_cache_from_another_address_does_not_lift_a_lockout(security_stack):
    """The attack that flushed the lockout when it lived in the cache: spend an account's budget, then make
    the issuer write hundreds of cache entries (renewing one's own session through /session/token/, from
    another address), then try the right password. The counts are in the database now: still 429."""
    ss = security_stack
    for _ in range(FAILURES_PER_USERNAME):
        assert_refused(ss.login("victim-evict", WRONG, ip=ss.client_ip()), 401, seconds=10)
    assert_throttled(ss.login("victim-evict", PASSWORD, ip=ss.client_ip()))
    flooder = ss.client_ip()
    refresh = ss.token("bob")["refresh"]
    for _ in range(EVICTING_RENEWALS):
        response = requests.post(
            f"{ss.internal['issuer']}/session/token/",
            headers={"Origin": ss.url["orders"], "Cookie": f"sso_refresh={refresh}", "X-Forwarded-For": flooder},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        refresh = response.cookies["sso_refresh"]
    assert_throttled(ss.login("victim-evict", PASSWORD, ip=ss.client_ip()))


def test_the_login_page_is_throttled_like_the_api(security_stack):
    """Both reach the same service (credentials_authenticate), so they share one budget per account."""
    ss = security_stack

    def page_login(password: str) -> requests.Response:
        session = requests.Session()
        form = session.get(f"{ss.internal['issuer']}/login/", timeout=10).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        return session.post(
            f"{ss.internal['issuer']}/login/",
            data={"username": "victim-page", "password": password, "csrfmiddlewaretoken": token},
            headers={"Origin": ss.url["issuer"], "X-Forwarded-For": ss.client_ip()},
            allow_redirects=False,
            timeout=30,
        )

    for _ in range(FAILURES_PER_USERNAME - 1):
        assert page_login(WRONG).status_code == 401
    assert_refused(ss.login("victim-page", WRONG, ip=ss.client_ip()), 401, seconds=10)
    throttled = page_login(PASSWORD)
    assert throttled.status_code == 429
    assert "Too many failed sign-in attempts" in throttled.text
    assert "Traceback" not in throttled.text
    assert_throttled(ss.login("victim-page", PASSWORD, ip=ss.client_ip()))


def test_guessing_across_accounts_from_one_address_is_throttled(security_stack):
    ss = security_stack
    attacker = ss.client_ip()
    for n in range(FAILURES_PER_IP):
        assert_refused(ss.login(f"nobody-{n}", WRONG, ip=attacker), 401, seconds=10)
    # The address's budget is spent: even a real account with its real password is refused from there ...
    assert_throttled(ss.login("ip-check", PASSWORD, ip=attacker))
    # ... and only from there.
    assert ss.login("ip-check", PASSWORD, ip=ss.client_ip()).status_code == 200


def test_a_forged_x_forwarded_for_does_not_buy_new_addresses(security_stack):
    """Behind one trusted proxy, only the address that proxy appended counts; whatever the client put
    before it is the client's own invention."""
    ss = security_stack
    attacker = ss.client_ip()
    for n in range(FAILURES_PER_IP):
        forged = f"203.0.113.{n}, 198.51.100.{n}"
        assert_refused(ss.login(f"spoof-nobody-{n}", WRONG, ip=attacker, forwarded=forged), 401, seconds=10)
    assert_throttled(ss.login("victim-spoof", PASSWORD, ip=attacker, forwarded="192.0.2.77"))
    assert ss.login("victim-spoof", PASSWORD, ip=ss.client_ip()).status_code == 200


@pytest.fixture(scope="module")
def direct_issuer(security_stack):
    """A second issuer process on the same database, deployed with no proxy in front
    (SSO_TRUSTED_PROXY_COUNT=0): X-Forwarded-For must be ignored entirely."""
    stack = security_stack.stack
    port = free_port()
    env = {
        **stack.env,
        "DJANGO_SETTINGS_MODULE": "settings.issuer",
        "SSO_TRUSTED_PROXY_COUNT": "0",
        "CACHE_KEY_PREFIX": stack.env.get("CACHE_KEY_PREFIX", "") + "direct-",
    }
    with open(stack.data_dir / f"issuer-direct-{port}.log", "ab") as log:
        process = subprocess.Popen(
            [GUNICORN, "settings.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(direct_issuer):
    def login(username: str, password: str, n: int) -> requests.Response:
        return requests.post(
            f"{direct_issuer}/api/token/",
            json={"username": username, "password": password},
            headers={"X-Forwarded-For": f"198.51.100.{n}", "Accept": "application/json"},
            timeout=30,
        )

    for n in range(FAILURES_PER_IP):
        assert_refused(login(f"direct-nobody-{n}", WRONG, n), 401, seconds=10)
    assert_throttled(login("victim-direct", PASSWORD, 99))


def test_unknown_inactive_and_wrong_password_look_the_same(security_stack):
    """Same status, same body, and about the same time: an unknown user costs a password hash too
    (Django's ModelBackend hashes for it), and so does an inactive one."""
    ss = security_stack
    kinds = {
        "unknown": lambda i: ("ghost-" + str(i), PASSWORD),
        "inactive": lambda i: (f"enum-inactive-{i}", PASSWORD),
        "wrong-password": lambda i: (f"enum-active-{i}", WRONG),
    }
    seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
    bodies = set()
    # Interleaved, so a busy machine slows every kind alike.
    for i in range(ENUMERATION_TRIES):
        for kind, attempt in kinds.items():
            username, password = attempt(i)
            response = ss.login(username, password, ip=ss.client_ip())
            assert_refused(response, 401, seconds=10)
            bodies.add(response.text)
            seconds[kind].append(response.elapsed.total_seconds())
    assert len(bodies) == 1, bodies
    medians = {kind: statistics.median(times) for kind, times in seconds.items()}
    # Without the dummy hash an unknown user answers in milliseconds against hundreds for a real one.
    assert max(medians.values()) < 2.0 * min(medians.values()), medians


@pytest.mark.parametrize("username", NASTY_USERNAMES)
def test_a_username_cannot_inject_claims(security_stack, username):
    ss = security_stack
    pair = ss.token(username)
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    assert claims["username"] == username
    assert claims["roles"] == []
    assert "staff" not in claims
    assert claims["sub"] != "1"
    # The relying app reads the same claims: no catalogue role, so no catalogue writes.
    refused = requests.post(
        f"{ss.internal['products']}/api/products/",
        json={"sku": "injected", "name": "Injected", "price": "1.00", "stock": 1},
        headers={"Authorization": f"Bearer {pair['access']}", "Accept": "application/json"},
        timeout=10,
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    "username",
    ["' OR '1'='1' --", "admin'--", '{"$ne": null}', "*", "%", "alice\x00", "a" * 150, "bob\r\nX-Injected: 1"],
)
def test_injection_through_the_login_username_is_just_a_wrong_username(security_stack, username):
    ss = security_stack
    response = ss.login(username, PASSWORD, ip=ss.client_ip())
    assert_refused(response, 400, 401, seconds=10)


@pytest.mark.parametrize(
    "body", [{"username": {"$ne": None}, "password": PASSWORD}, {"username": ["bob"], "password": [PASSWORD]}]
)
def test_structured_credentials_are_refused(security_stack, body):
    response = requests.post(f"{security_stack.internal['issuer']}/api/token/", json=body, timeout=10)
    assert response.status_code == 400
    assert "Traceback" not in response.text


def test_a_username_cannot_forge_a_log_line(security_stack):
    ss = security_stack
    forged = "mallory\nauth event=login_succeeded user=alice sid=forged ip=-"
    ss.login(forged, WRONG, ip=ss.client_ip())
    assert wait_until(lambda: "mallory\\nauth event=login_succeeded" in ss.log("issuer"))
    assert not any(line.startswith("auth event=") for line in ss.log("issuer").splitlines())


# ---- open redirects through the login page's `next` ------------------------------------------------------


def browser_login(ss, next_url: str) -> requests.Response:
    """Sign bob in through the login form (CSRF token and all) with `next`, without following the redirect."""
    session = requests.Session()
    page = session.get(f"{ss.internal['issuer']}/login/", params={"next": next_url}, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(
        f"{ss.internal['issuer']}/login/",
        data={"username": "bob", "password": PASSWORD, "next": next_url, "csrfmiddlewaretoken": token},
        headers={
            "Origin": ss.url["issuer"],
            "Referer": f"{ss.url['issuer']}/login/",
            "X-Forwarded-For": ss.client_ip(),
        },
        allow_redirects=False,
        timeout=30,
    )


OPEN_REDIRECTS = [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/%2F%2Fevil.example/",
    "https:evil.example",
    "http:/evil.example",
    "javascript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    " //evil.example/",
    "\t//evil.example/",
    "{orders}.evil.example/",
    "{orders}@evil.example/",
    "http://evil.example#@{orders_host}/",
    "http://evil.example\\@{orders_host}/",
    "http://{orders_host_no_port}:1/",
    "https://{orders_host}/",
    "http://sibling.example.test/",
    "http://evil{orders_host}/",
]


@pytest.mark.parametrize("template", OPEN_REDIRECTS)
def test_login_next_never_leaves_the_configured_sites(security_stack, template):
    ss = security_stack
    orders = ss.url["orders"]
    target = template.format(
        orders=orders,
        orders_host=urlsplit(orders).netloc,
        orders_host_no_port=urlsplit(orders).hostname,
    )
    response = browser_login(ss, target)
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    location = urljoin(f"{ss.url['issuer']}/login/", response.headers["Location"])
    parts = urlsplit(location)
    allowed = {urlsplit(url).netloc for url in ss.url.values()}
    assert parts.scheme in ("http", "https") and parts.netloc in allowed, location
    assert "evil" not in parts.netloc


def test_login_next_to_a_configured_site_is_followed(security_stack):
    """The control: the guard still lets sign-on return to a real relying app."""
    ss = security_stack
    target = f"{ss.url['orders']}/api/orders/"
    response = browser_login(ss, target)
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == target


@pytest.mark.parametrize("path", ["/session/renew/", "/logout/done/", "/admin/login/"])
@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_other_issuer_pages_never_redirect_off_site(security_stack, path, target):
    ss = security_stack
    response = requests.get(
        f"{ss.internal['issuer']}{path}", params={"next": target}, allow_redirects=False, timeout=10
    )
    assert response.status_code < 500
    if response.is_redirect:
        # A redirect to the login page carries the (sanitised) target in its query: only the path part counts.
        location = urljoin(f"{ss.url['issuer']}{path}", response.headers["Location"])
        assert urlsplit(location).netloc in {urlsplit(url).netloc for url in ss.url.values()}, location


# ---- password reset ---------------------------------------------------------------------------------------


def test_password_reset_does_not_reveal_which_addresses_have_accounts(security_stack):
    """Same status, same body, about the same time for an address with an account (bob's) and without."""
    ss = security_stack
    seconds: dict[str, list[float]] = {"known": [], "unknown": []}
    bodies = set()
    for i in range(ENUMERATION_TRIES):
        for kind, email in (("known", "bob@example.com"), ("unknown", f"nobody-{i}@example.com")):
            response = requests.post(
                f"{ss.internal['issuer']}/api/password-reset/",
                json={"email": email},
                headers={"X-Forwarded-For": ss.client_ip(), "Accept": "application/json"},
                timeout=10,
            )
            assert response.status_code == 202, response.text
            bodies.add(response.text)
            seconds[kind].append(response.elapsed.total_seconds())
    assert len(bodies) == 1, bodies
    medians = {kind: statistics.median(times) for kind, times in seconds.items()}
    assert abs(medians["known"] - medians["unknown"]) < 0.15, medians
