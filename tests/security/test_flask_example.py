"""examples/flask_service against the running issuer over HTTP: it finds the JWKS through discovery,
accepts bob's real access token, and refuses the representative hostile set with a generic 401."""

import importlib.util
import json
import threading
from collections.abc import Iterator

import pytest
import requests
from werkzeug.serving import make_server

from tests.hostile_tokens import CASES, HTTP_CASES, Ctx
from tests.refusals import assert_generic_body
from tests.security.conftest import issuer_kid, issuer_private_key
from tests.servers import ROOT

# What the example deliberately does not check (its docstring says so): claims it never reads (sid, roles),
# and the duplicate members that only sso_client's parser refuses (PyJWT keeps the last one, which here is
# the legitimate value, signed by the issuer's own key).
NOT_THE_EXAMPLES = {"sid-object", "roles-string", "duplicate-token-type-refresh-first", "duplicate-header-alg"}
FLASK_CASES = sorted(set(HTTP_CASES) - NOT_THE_EXAMPLES)

# The example keeps nothing in the sites' storage: the run on PostgreSQL and Redis would repeat this one.
pytestmark = pytest.mark.storage_independent


def _example_module():
    spec = importlib.util.spec_from_file_location("flask_service_app", ROOT / "examples/flask_service/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def flask_service(security_stack) -> Iterator[str]:
    """The example, serving on loopback, configured with the audience bob's tokens carry (orders)."""
    app = _example_module().create_app(
        security_stack.url["issuer"], "orders", fetch_url=security_stack.internal["issuer"]
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture(scope="module")
def ctx(security_stack, bob, listener) -> Ctx:
    jwks_body = requests.get(f"{security_stack.internal['issuer']}/.well-known/jwks.json", timeout=10).content
    return Ctx(
        issuer_url=security_stack.url["issuer"],
        audience="orders",
        bob=bob,
        jwks_body=jwks_body,
        listener_url=listener.url,
        kid=issuer_kid(),
        signing_key=issuer_private_key(),
    )


def hello(flask_service: str, token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}".encode("latin-1")}
    return requests.get(f"{flask_service}/api/hello/", headers=headers, timeout=10)


def test_a_real_access_token_is_accepted(flask_service, ctx, bob):
    for token in (bob["access"], ctx.signed()):
        response = hello(flask_service, token)
        assert response.status_code == 200, response.text
        assert response.json()["sub"] == bob["sub"]


def test_no_token_and_a_refresh_token_are_refused(flask_service, bob):
    assert requests.get(f"{flask_service}/api/hello/", timeout=10).status_code == 401
    assert hello(flask_service, bob["refresh"]).status_code == 401


@pytest.mark.parametrize("case", FLASK_CASES)
def test_hostile_token_gets_a_generic_401(flask_service, ctx, listener, case):
    response = hello(flask_service, CASES[case](ctx))
    assert response.status_code == 401, (case, response.text[:300])
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="orders"'
    assert json.loads(response.text)["code"] == "token_not_valid"
    assert_generic_body(status=401, body=response.text, content_type=response.headers["Content-Type"])
    assert listener.requests == [], "the example fetched a URL named in a token"
