"""Node's openid-client (a certified relying-party library) against the issuer, as an integrator would use it
(tests/oidc_clients/node/rp.mjs): discovery, authorization code with PKCE S256, state and nonce, the library's
ID-token validation, UserInfo, a refresh, and RP-initiated logout, with Chromium signing in as bob. A
confidential client (client_secret_basic) and a public one (no secret, PKCE only)."""

import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Stack, free_port, stop_process, wait_for_port

from .conftest import register_client, sign_in_at_issuer, unavailable, user_subject

pytestmark = pytest.mark.browser

NODE_DIR = Path(__file__).resolve().parent / "node"


@pytest.fixture(scope="module")
def node() -> str:
    executable = shutil.which("node")
    if executable is None:
        unavailable("Node.js is not installed (apt-get install nodejs npm), so openid-client cannot run")
    if not (NODE_DIR / "node_modules" / "openid-client" / "package.json").exists():
        unavailable("openid-client is not installed (npm ci in tests/oidc_clients/node)")
    return executable


@contextlib.contextmanager
def node_rp(node: str, stack: Stack, registered: dict, port: int) -> Iterator[str]:
    """rp.mjs listening on 127.0.0.1:port for this client; yields its origin. It runs discovery before it
    listens, so an open port means the issuer's metadata was accepted."""
    log = stack.data_dir / f"node-rp-{port}.log"
    env = {
        **stack.env,
        "OIDC_ISSUER": stack.url["issuer"],
        "OIDC_CLIENT_ID": registered["client_id"],
        "OIDC_CLIENT_SECRET": registered.get("client_secret") or "",
        "RP_PORT": str(port),
    }
    with open(log, "ab") as output:
        process = subprocess.Popen([node, "rp.mjs"], cwd=NODE_DIR, env=env, stdout=output, stderr=output)
    try:
        try:
            wait_for_port(port, process)
        except RuntimeError as e:
            raise RuntimeError(f"{e}; the RP said:\n{log.read_text()}") from e
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def rp_result(page) -> dict:
    """What the RP reported on the page it answered: #result, or the error the library raised."""
    if page.locator("#error").count():
        pytest.fail(f"the openid-client RP failed at {page.url}: {page.inner_text('#error')}")
    return json.loads(page.inner_text("#result"))


def register(stack: Stack, name: str, port: int, *options: str) -> dict:
    return register_client(
        stack,
        name,
        "--redirect-uri",
        f"http://127.0.0.1:{port}/callback",
        "--post-logout-redirect-uri",
        f"http://127.0.0.1:{port}/signed-out",
        *options,
    )


def sign_in_through_rp(page, issuer: Stack, rp: str) -> dict:
    page.goto(f"{rp}/login")
    sign_in_at_issuer(page, issuer, "bob")
    assert page.url.startswith(f"{rp}/callback?"), page.url
    return rp_result(page)


def assert_signed_in_as_bob(result: dict, issuer: Stack, client_id: str) -> None:
    claims = result["id_token_claims"]
    assert claims["iss"] == issuer.url["issuer"]
    assert claims["aud"] in (client_id, [client_id])
    assert claims["sub"] == user_subject(issuer, "bob")
    assert claims["preferred_username"] == "bob"
    assert claims["sid"]
    assert result["token_type"].lower() == "bearer"
    assert result["userinfo"]["sub"] == claims["sub"]
    assert result["userinfo"]["preferred_username"] == "bob"


def sign_out_through_rp(page, issuer: Stack, rp: str, end_session_url: str) -> dict:
    """Follow the RP's end-session URL; confirm at the issuer if it asks."""
    assert end_session_url.startswith(f"{issuer.url['issuer']}/"), end_session_url
    page.goto(end_session_url)
    if not page.url.startswith(f"{rp}/signed-out"):
        assert page.url.startswith(f"{issuer.url['issuer']}/"), page.url
        with page.expect_navigation():
            page.click("button[type=submit]")
    assert page.url.startswith(f"{rp}/signed-out"), page.url
    return rp_result(page)


def test_a_confidential_client_signs_in_refreshes_and_signs_out(node, page, issuer):
    port = free_port()
    registered = register(issuer, "Node confidential RP", port)
    assert registered["client_secret"]
    with node_rp(node, issuer, registered, port) as rp:
        result = sign_in_through_rp(page, issuer, rp)
        assert_signed_in_as_bob(result, issuer, registered["client_id"])
        assert result["has_refresh_token"]
        refreshed = result["refreshed"]
        assert refreshed["access_token_differs"]
        assert refreshed["refresh_token_differs"]
        assert refreshed["userinfo_sub"] == result["id_token_claims"]["sub"]
        assert refreshed["id_token_sub"] in (None, result["id_token_claims"]["sub"])

        signed_out = sign_out_through_rp(page, issuer, rp, result["end_session_url"])
        assert signed_out == {"signed_out": True, "state_echoed": True}

        # Signed out at the issuer for real: the client session's refresh token no longer works, and the
        # next sign-in asks for the password again.
        page.goto(f"{rp}/refresh")
        assert rp_result(page) == {"refreshed": False, "error": "invalid_grant"}
        page.goto(f"{rp}/login")
        assert page.url.startswith(f"{issuer.url['issuer']}/"), page.url
        assert page.locator("#id_password").count() == 1


def test_a_public_client_signs_in_with_pkce_alone(node, page, issuer):
    port = free_port()
    registered = register(issuer, "Node public RP", port, "--public")
    assert not registered.get("client_secret")
    with node_rp(node, issuer, registered, port) as rp:
        result = sign_in_through_rp(page, issuer, rp)
        assert_signed_in_as_bob(result, issuer, registered["client_id"])
        # A public client's refresh token is rotated on use, with reuse detection (OAuth 2.1 section 4.3.1).
        assert result["has_refresh_token"]
        assert result["refreshed"]["refresh_token_differs"]
        assert result["refreshed"]["userinfo_sub"] == result["id_token_claims"]["sub"]

        signed_out = sign_out_through_rp(page, issuer, rp, result["end_session_url"])
        assert signed_out == {"signed_out": True, "state_echoed": True}
