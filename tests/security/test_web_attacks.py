"""Web attacks on the running sites: CORS from foreign, `null` and look-alike origins; CSRF at a relying app
from a cross-site form and from a sibling subdomain that shares the cookie domain; Host header poisoning;
oversized and hostile bodies; and the headers and error pages every response must have."""

import re
from urllib.parse import urlsplit

import pytest
import requests

from tests.security.conftest import PASSWORD, assert_refused

SITES = ("issuer", "orders", "products")
CORS_PATHS = {"issuer": "/api/token/", "orders": "/api/orders/", "products": "/api/products/"}


def host_of(url: str) -> str:
    return urlsplit(url).netloc


def hostile_origins(ss) -> list[str]:
    """Foreign, `null`, and origins that look like a configured one to a careless comparison."""
    sso, orders = ss.url["issuer"], ss.url["orders"]
    sso_host, sso_port = urlsplit(sso).hostname, urlsplit(sso).port
    return [
        "http://evil.example",
        "null",
        f"{sso}.evil.example",  # configured origin as a prefix
        f"http://evil{host_of(sso)}",  # ... as a suffix
        f"http://{sso_host}.evil.example:{sso_port}",
        f"http://evil.{host_of(sso)}",  # a subdomain of a configured host
        f"http://sibling.example.test:{sso_port}",  # a sibling under the shared cookie domain
        f"http://example.test:{sso_port}",  # the parent domain itself
        sso.replace("http://", "https://"),  # another scheme
        f"http://{sso_host}:1",  # another port
        f"http://{sso_host}",  # no port
        sso.upper(),
        f"{sso}/",
        f"{sso}@evil.example",
        f"http://evil.example#{host_of(orders)}",
        f"{orders} http://evil.example",
        "*",
    ]


@pytest.mark.parametrize("site", SITES)
def test_cors_allows_exactly_the_configured_origins(security_stack, site):
    ss = security_stack
    url = f"{ss.internal[site]}{CORS_PATHS[site]}"
    for origin in ss.url.values():
        preflight = requests.options(
            url,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
            timeout=10,
        )
        assert preflight.status_code == 200, (origin, preflight.status_code)
        assert preflight.headers["Access-Control-Allow-Origin"] == origin
        assert preflight.headers["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize("site", SITES)
def test_cors_refuses_foreign_null_and_look_alike_origins(security_stack, site):
    ss = security_stack
    url = f"{ss.internal[site]}{CORS_PATHS[site]}"
    for origin in hostile_origins(ss):
        preflight = requests.options(
            url,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
            timeout=10,
        )
        assert_refused(preflight, 403)
        assert "Access-Control-Allow-Origin" not in preflight.headers, origin
        # The actual request (which a browser sends without a preflight when it is "simple") is answered,
        # but never with the headers that would let the foreign page read it.
        simple = requests.get(url, headers={"Origin": origin, "Accept": "application/json"}, timeout=10)
        assert simple.status_code < 500
        assert "Access-Control-Allow-Origin" not in simple.headers, origin
        assert "Access-Control-Allow-Credentials" not in simple.headers, origin


def test_the_issuer_session_token_endpoint_refuses_foreign_origins(security_stack):
    """The credentialed script flow: only a configured origin gets a token for the browser's session."""
    ss = security_stack
    for origin in hostile_origins(ss):
        response = requests.post(
            f"{ss.internal['issuer']}/session/token/",
            headers={"Origin": origin, "Cookie": "sso_refresh=anything", "Accept": "application/json"},
            timeout=10,
        )
        assert response.status_code in (401, 403), (origin, response.status_code)
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "access" not in response.json()


# ---- CSRF at a relying app that the browser holds the access cookie for --------------------------------


PLANTED_CSRF = "A" * 32  # a CSRF secret a sibling subdomain could set on the shared parent domain


def cookie_post(ss, *, origin: str | None, referer: str | None = None, token: str | None = None, json_body=False):
    orders = ss.url["orders"]
    cookies = f"sso_access={ss.token('bob')['access']}; orders_csrftoken={PLANTED_CSRF}"
    headers = {"Host": host_of(orders), "Cookie": cookies, "Accept": "application/json"}
    if origin is not None:
        headers["Origin"] = origin
    if referer is not None:
        headers["Referer"] = referer
    form = {"sku": "mug-blue", "quantity": "1"}
    if token is not None:
        form["csrfmiddlewaretoken"] = token
    if json_body:
        headers["X-CSRFToken"] = token or ""
        return requests.post(f"{ss.internal['orders']}/api/orders/", json=form, headers=headers, timeout=10)
    return requests.post(f"{ss.internal['orders']}/api/orders/", data=form, headers=headers, timeout=10)


def test_control_a_same_origin_cookie_post_with_its_csrf_token_is_accepted(security_stack):
    ss = security_stack
    response = cookie_post(ss, origin=ss.url["orders"], token=PLANTED_CSRF, json_body=True)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "attack",
    [
        "cross-site-form",
        "cross-site-form-null-origin",
        "sibling-subdomain-with-planted-token",
        "sibling-subdomain-referer-only",
        "other-relying-app-with-planted-token",
        "no-origin-no-token",
    ],
)
def test_cookie_authenticated_post_from_elsewhere_is_refused(security_stack, attack):
    ss = security_stack
    orders = urlsplit(ss.url["orders"])
    sibling = f"http://sibling.example.test:{orders.port}"
    kwargs = {
        "cross-site-form": {"origin": "http://evil.example"},
        "cross-site-form-null-origin": {"origin": "null", "token": PLANTED_CSRF},
        "sibling-subdomain-with-planted-token": {"origin": sibling, "token": PLANTED_CSRF},
        "sibling-subdomain-referer-only": {"origin": None, "referer": f"{sibling}/attack/"},
        "other-relying-app-with-planted-token": {"origin": ss.url["products"], "token": PLANTED_CSRF},
        "no-origin-no-token": {"origin": None},
    }[attack]
    response = cookie_post(ss, **kwargs)
    assert_refused(response, 403)


# ---- Host header poisoning ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:80",
        "sso.example.test.evil.example",
        "sso.example.test@evil.example",
        "localhost.evil",
    ],
)
def test_a_foreign_host_header_is_refused(security_stack, host):
    for site in SITES:
        response = requests.get(
            f"{security_stack.internal[site]}/.well-known/openid-configuration", headers={"Host": host}, timeout=10
        )
        assert_refused(response, 400)


def test_discovery_names_the_configured_issuer_whatever_the_request_says(security_stack):
    ss = security_stack
    for headers in (
        {"Host": host_of(ss.url["issuer"])},
        {"Host": host_of(ss.internal["issuer"])},
        {"Host": host_of(ss.url["issuer"]), "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
        {"Host": host_of(ss.url["issuer"]), "Forwarded": "host=evil.example;proto=https"},
    ):
        response = requests.get(
            f"{ss.internal['issuer']}/.well-known/openid-configuration", headers=headers, timeout=10
        )
        assert response.status_code == 200
        document = response.json()
        assert document["issuer"] == ss.url["issuer"]
        assert all(
            value.startswith(ss.url["issuer"] + "/")
            for key, value in document.items()
            if key.endswith(("_uri", "_endpoint"))
        ), document
        assert "evil" not in response.text


# ---- bodies -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "path"),
    [("issuer", "/api/token/"), ("issuer", "/api/token/refresh/"), ("orders", "/api/orders/"), ("issuer", "/login/")],
)
def test_an_oversized_body_gets_413(security_stack, site, path):
    body = b'{"username": "' + b"a" * (1024 * 1024) + b'"}'
    response = requests.post(
        f"{security_stack.internal[site]}{path}",
        data=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        timeout=10,
    )
    assert_refused(response, 413)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 40_000 + b"1" + b"}" * 40_000,
        b'{"username": "bob", "password": ',
        b"\xff\xfe\x00garbage",
        b'{"username": "bob", "password": NaN}',
        b'{"username": 1' + b"0" * 5000 + b', "password": "x"}',
    ],
    ids=["nested-arrays", "nested-objects", "truncated", "not-utf8", "nan", "5000-digit-number"],
)
def test_hostile_json_bodies_get_a_generic_400(security_stack, body):
    response = requests.post(
        f"{security_stack.internal['issuer']}/api/token/",
        data=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        timeout=10,
    )
    assert_refused(response, 400)


# ---- headers and error pages ---------------------------------------------------------------------------------


PAGES = [
    ("issuer", "/login/", {"Accept": "text/html"}),
    ("issuer", "/.well-known/openid-configuration", {}),
    ("issuer", "/api/token/", {"Accept": "application/json"}),
    ("orders", "/api/orders/", {"Accept": "application/json"}),
    ("products", "/api/products/", {"Accept": "text/html"}),
    ("products", "/no-such-page/", {"Accept": "text/html"}),
]


@pytest.mark.parametrize(("site", "path", "headers"), PAGES)
def test_every_response_carries_the_security_headers(security_stack, site, path, headers):
    response = requests.get(
        f"{security_stack.internal[site]}{path}", headers=headers, allow_redirects=False, timeout=10
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ):
        assert directive in csp
    assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp


HTML_PAGES = [("issuer", "/login/"), ("issuer", "/"), ("issuer", "/password-reset/"), ("products", "/api/products/")]


@pytest.mark.parametrize(("site", "path"), HTML_PAGES)
def test_pages_need_no_inline_script_so_the_policy_breaks_nothing(security_stack, site, path):
    """What the Content-Security-Policy forbids, the pages must not use: inline script and event handlers."""
    ss = security_stack
    headers = {"Accept": "text/html", "Cookie": f"sso_access={ss.token('alice')['access']}"}
    response = requests.get(f"{ss.internal[site]}{path}", headers=headers, timeout=10)
    assert response.status_code == 200
    for tag in re.findall(r"<script\b[^>]*>", response.text):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", response.text)


@pytest.mark.parametrize("site", SITES)
@pytest.mark.parametrize("path", ["/no-such-page/", "/static/../settings/base.py", "/admin/../../etc/passwd"])
def test_error_pages_are_plain(security_stack, site, path):
    response = requests.get(f"{security_stack.internal[site]}{path}", headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code in (400, 404)
    for leak in ("Traceback", "DEBUG", "urlpatterns", "settings", "Django", "SECRET"):
        assert leak not in response.text, leak
    assert len(response.text) < 500


def test_a_malformed_content_length_is_refused(security_stack):
    import socket

    port = urlsplit(security_stack.internal["issuer"]).port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: -5\r\nConnection: close\r\n\r\n{}"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:200]
    assert b"Traceback" not in answer


def test_the_admin_needs_no_inline_script_either(security_stack):
    """The admin under the same policy: signed in as alice through the SSO login page (which starts the
    admin's session), its pages load their scripts from files only."""
    ss = security_stack
    session = requests.Session()
    page = session.get(f"{ss.internal['issuer']}/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    signed_in = session.post(
        f"{ss.internal['issuer']}/login/",
        data={"username": "alice", "password": PASSWORD, "next": "/admin/", "csrfmiddlewaretoken": token},
        headers={"Origin": ss.url["issuer"], "X-Forwarded-For": ss.client_ip()},
        allow_redirects=False,
        timeout=30,
    )
    assert signed_in.status_code == 302
    for path in ("/admin/", "/admin/auth/user/", "/admin/auth/user/add/", "/admin/issuer/ssosession/"):
        response = session.get(f"{ss.internal['issuer']}{path}", timeout=10)
        assert response.status_code == 200, path
        assert "Content-Security-Policy" in response.headers
        for tag in re.findall(r"<script\b[^>]*>", response.text):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=\s*[\"']", response.text), path
