"""Forged and malformed access tokens against running sites: both relying apps (Bearer, and orders by cookie)
and the issuer's own API. Every case is one mutation of a token that is otherwise accepted (the control test
proves it), and every case must get a fast, generic 401 that names no library and fetches nothing.

Here runs a representative set of the cases (tests/hostile_tokens.HTTP_CASES, each family at least once) at
every site: what HTTP adds is the middleware, the transports and the error bodies. Every case runs
in-process against each verifier (tests/sso_client, tests/products, tests/issuer: test_forged_tokens.py)."""

import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from tests import forge
from tests.hostile_tokens import CASES, HTTP_CASES, Ctx
from tests.security.conftest import assert_refused, issuer_kid, issuer_private_key

# (name, site, path, transport)
TARGETS = [
    ("orders-bearer", "orders", "/api/orders/", "bearer"),
    ("products-bearer", "products", "/api/products/", "bearer"),
    ("orders-cookie", "orders", "/api/orders/", "cookie"),
    ("issuer-bearer", "issuer", "/api/sessions/", "bearer"),
]
AUDIENCE = {"orders": "orders", "products": "products", "issuer": "sso"}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def ctx_by_site(security_stack, bob, listener) -> dict[str, Ctx]:
    jwks_body = requests.get(f"{security_stack.internal['issuer']}/.well-known/jwks.json", timeout=10).content
    assert issuer_kid() in [k["kid"] for k in json.loads(jwks_body)["keys"]], "the issuer signs with this suite's key"
    # bob's real token for the issuer's account API is one asked for it; the apps take his default one.
    account_token = security_stack.token("bob", audience="sso")["access"]
    return {
        site: Ctx(
            issuer_url=security_stack.url["issuer"],
            audience=AUDIENCE[site],
            bob={**bob, "access": account_token} if site == "issuer" else bob,
            jwks_body=jwks_body,
            listener_url=listener.url,
            kid=issuer_kid(),
            signing_key=issuer_private_key(),
        )
        for site in AUDIENCE
    }


def send(security_stack, site: str, path: str, transport: str, token: str) -> requests.Response:
    headers = {"Accept": "application/json"}
    if transport == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    else:
        headers["Cookie"] = f"sso_access={token}"
    # Header values go out as latin-1 bytes, as a raw client would send them.
    headers = {name: value.encode("latin-1") for name, value in headers.items()}
    return requests.get(f"{security_stack.internal[site]}{path}", headers=headers, timeout=10)


@pytest.mark.parametrize(("target", "site", "path", "transport"), TARGETS, ids=[t[0] for t in TARGETS])
def test_control_a_well_formed_token_signed_with_the_issuer_key_is_accepted(
    security_stack, ctx_by_site, target, site, path, transport
):
    """The baseline every hostile case below departs from by one change."""
    ctx = ctx_by_site[site]
    for token in (ctx.signed(), ctx.bob["access"]):
        response = send(security_stack, site, path, transport, token)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("case", sorted(HTTP_CASES))
@pytest.mark.parametrize(("target", "site", "path", "transport"), TARGETS, ids=[t[0] for t in TARGETS])
def test_hostile_token_gets_a_fast_generic_401(
    security_stack, ctx_by_site, listener, target, site, path, transport, case
):
    token = CASES[case](ctx_by_site[site])
    response = send(security_stack, site, path, transport, token)
    assert_refused(response, 401)
    if transport == "bearer":
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert listener.requests == [], "a verifier fetched a URL named in a token"


@pytest.mark.parametrize("site", ["orders", "issuer"])
@pytest.mark.parametrize("part", ["header", "payload"])
def test_a_one_mebibyte_header_or_payload_is_refused_before_the_app(security_stack, ctx_by_site, site, part):
    ctx = ctx_by_site[site]
    if part == "header":
        token = ctx.attacker_signed(header=ctx.header(pad="p" * MIB))
    else:
        token = ctx.attacker_signed(claims=ctx.claims(pad="p" * MIB))
    path = "/api/orders/" if site == "orders" else "/api/sessions/"
    try:
        response = send(security_stack, site, path, "bearer", token)
    except requests.ConnectionError:
        # The server may close the connection while the client is still sending: refused all the same.
        response = None
    if response is not None:
        assert response.status_code in (400, 401, 413, 431), response.status_code
        assert "Traceback" not in response.text
    assert send(security_stack, site, path, "bearer", ctx.signed()).status_code == 200, "still serving"


def raw_get(url: str, headers: list[tuple[str, str]]) -> tuple[int, dict, bytes]:
    """A GET sent with http.client, which (unlike requests) sends a header name twice when told to."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("GET", parts.path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("site", ["orders", "products", "issuer"])
@pytest.mark.parametrize(
    "second",
    ["hostile", "same", "basic"],
)
def test_two_authorization_headers_are_refused(security_stack, ctx_by_site, site, second):
    ctx = ctx_by_site[site]
    good = ctx.signed()
    other = {
        "hostile": f"Bearer {forge.with_signature(ctx.header(alg='none'), ctx.claims(staff=True), b'')}",
        "same": f"Bearer {good}",
        "basic": "Basic Ym9iOnNlY3JldA==",
    }[second]
    path = {"orders": "/api/orders/", "products": "/api/products/", "issuer": "/api/sessions/"}[site]
    for headers in (
        [("Authorization", f"Bearer {good}"), ("Authorization", other)],
        [("Authorization", other), ("Authorization", f"Bearer {good}")],
    ):
        status, response_headers, body = raw_get(
            f"{security_stack.internal[site]}{path}", [("Accept", "application/json"), *headers]
        )
        assert status in (400, 401), (status, body[:200])
        assert b"Traceback" not in body


def test_bearer_header_and_cookie_together_use_the_header_only(security_stack, ctx_by_site):
    """Never a mix: a valid cookie does not rescue a refused header."""
    ctx = ctx_by_site["orders"]
    response = requests.get(
        f"{security_stack.internal['orders']}/api/orders/",
        headers={
            "Authorization": "Bearer " + CASES["alg-none-unsigned"](ctx),
            "Cookie": f"sso_access={ctx.signed()}",
            "Accept": "application/json",
        },
        timeout=10,
    )
    assert_refused(response, 401)


def test_an_access_token_is_refused_as_a_refresh_token(security_stack, ctx_by_site, bob):
    for token in (
        bob["access"],
        ctx_by_site["issuer"].signed(claims=ctx_by_site["issuer"].claims(token_type="refresh")),
    ):
        for path in ("/api/token/refresh/", "/api/logout/"):
            response = requests.post(
                f"{security_stack.internal['issuer']}{path}",
                json={"refresh": token},
                headers={"Accept": "application/json"},
                timeout=10,
            )
            assert_refused(response, 401)


@pytest.mark.parametrize("case", ["alg-none-unsigned", "HS256-pem", "tampered-sub", "signature-stripped", "exp-string"])
def test_hostile_refresh_tokens_are_refused(security_stack, ctx_by_site, bob, case):
    """The same mutations applied to a refresh token, at the endpoint that reads refresh tokens."""
    header, claims, _signature = forge.decoded(bob["refresh"])
    mutations = {
        "alg-none-unsigned": lambda: forge.with_signature({**header, "alg": "none"}, claims, b""),
        "HS256-pem": lambda: forge.hmac_signed(
            {**header, "alg": "HS256"}, claims, ctx_by_site["issuer"].public_key_encodings()["pem"]
        ),
        "tampered-sub": lambda: forge.parts(bob["refresh"])[0]
        + "."
        + forge.segment({**claims, "sub": "1"})
        + "."
        + forge.parts(bob["refresh"])[2],
        "signature-stripped": lambda: bob["refresh"].rsplit(".", 1)[0] + ".",
        "exp-string": lambda: forge.hmac_signed(
            {**header, "alg": "HS256"}, {**claims, "exp": str(claims["exp"])}, b"x"
        ),
    }
    response = requests.post(
        f"{security_stack.internal['issuer']}/api/token/refresh/",
        json={"refresh": mutations[case]()},
        headers={"Accept": "application/json"},
        timeout=10,
    )
    assert_refused(response, 401)


@pytest.mark.parametrize("audience", ["", "orders"], ids=["default", "one-app"])
@pytest.mark.parametrize(
    ("method", "path"), [("get", "/api/sessions/"), ("post", "/api/logout/everywhere/"), ("post", "/api/logout/")]
)
def test_a_real_token_handed_to_a_relying_app_cannot_act_at_the_issuer(security_stack, audience, method, path):
    """What orders receives from bob (signed by the issuer, valid there) does not open bob's account API."""
    pair = security_stack.token("bob", **({"audience": audience} if audience else {}))
    response = getattr(requests, method)(
        f"{security_stack.internal['issuer']}{path}",
        headers={"Authorization": f"Bearer {pair['access']}", "Accept": "application/json"},
        timeout=10,
    )
    assert_refused(response, 401)
    still = requests.get(
        f"{security_stack.internal['orders']}/api/orders/",
        headers={"Authorization": f"Bearer {pair['access']}"},
        timeout=10,
    )
    assert still.status_code == 200, "the session was not ended"
