"""The token inspector: header and claims with readable dates, and the exact reason a token does not verify;
from the command line and on a staff-only page."""

import io
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.management import CommandError, call_command

from issuer.models import ServiceClient, SSOSession
from issuer.services.inspector import token_inspect
from issuer.services.service_clients import service_client_secret_set
from issuer.signing import keys

from .conftest import obtain

pytestmark = pytest.mark.django_db


def sign(*, kid: str | None = None, private_key=None, algorithm: str = "RS256", **overrides) -> str:
    """A token signed with the issuer's active key (or `private_key`), with `overrides` changing its claims."""
    active = keys.active_signing_key()
    now = int(time.time())
    claims = {
        "iss": settings.SSO_ISSUER_URL,
        "sub": "2",
        "aud": ["sso", "orders"],
        "exp": now + 300,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "token_type": "access",
        "sid": "no-such-session",
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    key = private_key or active.private_key
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid or active.kid})


@pytest.fixture
def bob_tokens(api, users):
    return obtain(api, "bob").json()


@pytest.fixture
def service_client(apps):
    client = ServiceClient.objects.create(name="Orders", client_id="orders", scopes="stock:reserve")
    client.audiences.set([apps["products"]])
    service_client_secret_set(client=client, raw_secret="s3cret-for-tests")
    return client


def test_a_valid_access_token(bob_tokens):
    inspection = token_inspect(bob_tokens["access"])
    assert inspection.valid and inspection.reason == ""
    assert inspection.kind == "access"
    assert inspection.header["alg"] == "RS256" and inspection.header["kid"]
    assert any(note.startswith(f"session {bob_tokens['sid']} of bob") for note in inspection.notes)
    readable = dict(inspection.readable_claims())
    assert readable["aud"] == "orders, products"
    assert "Z, in 4m" in readable["exp"] or "Z, in 5m" in readable["exp"]
    assert readable["iat"].split(" (")[1].startswith(time.strftime("%Y-%m-%dT", time.gmtime()))


def test_a_valid_access_token_for_one_app(bob_tokens):
    assert token_inspect(bob_tokens["access"], audience="products").valid
    assert token_inspect(bob_tokens["access"], audience="billing").reason == "wrong audience: expected one of billing"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 10}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not yet valid"),
        ({"aud": ["nowhere"]}, "wrong audience"),
        ({"iss": "https://evil.example"}, "wrong issuer"),
        ({"kid": "no-such-key"}, "unknown kid"),
        ({"private_key": rsa.generate_private_key(public_exponent=65537, key_size=2048)}, "bad signature"),
        ({"sid": None}, "missing claim: sid"),
        ({"token_type": "id"}, "wrong type"),
        ({"token_type": None}, "wrong type"),
        ({"algorithm": "HS256", "private_key": "k" * 32}, "algorithm not allowed"),
    ],
)
def test_each_refusal_names_its_reason(users, overrides, reason):
    inspection = token_inspect(sign(**overrides))
    assert not inspection.valid
    assert inspection.reason.split(":")[0] == reason.split(":")[0]
    assert inspection.reason.startswith(reason)


def test_a_revoked_session(api, bob_tokens):
    assert api.post("/api/logout/", {"refresh": bob_tokens["refresh"]}, format="json").status_code == 200
    inspection = token_inspect(bob_tokens["access"])
    assert inspection.reason.startswith("revoked session: Logged out at ")


def test_an_unknown_session(users):
    assert token_inspect(sign()).reason == "revoked session: no session with this sid"


def test_the_expected_type(bob_tokens):
    inspection = token_inspect(bob_tokens["access"], expected_type="service")
    assert inspection.reason == "wrong type: it is 'access', expected 'service'"
    assert token_inspect(bob_tokens["access"], expected_type="access").valid


def test_a_retired_key_is_unknown(bob_tokens):
    keys.signing_key_rotate()
    assert token_inspect(bob_tokens["access"]).valid, "a retiring key is still published"
    old = keys.SigningKey.objects.get(state=keys.SigningKey.State.RETIRING)
    keys.signing_key_retire(key=old, force=True)
    assert token_inspect(bob_tokens["access"]).reason.startswith("unknown kid")


def test_refresh_tokens(api, bob_tokens):
    assert token_inspect(bob_tokens["refresh"]).valid
    api.post("/api/token/refresh/", {"refresh": bob_tokens["refresh"]}, format="json")
    reason = token_inspect(bob_tokens["refresh"]).reason
    assert reason.startswith("revoked session: this refresh token was already rotated")
    assert SSOSession.objects.get(sid=bob_tokens["sid"]).revoked_at is None, "inspecting is not reusing"


def test_service_tokens(api, service_client):
    token = api.post(
        "/api/service-token/",
        {"client_id": "orders", "client_secret": "s3cret-for-tests", "audience": "products"},
        format="json",
    ).json()["access_token"]
    inspection = token_inspect(token)
    assert inspection.valid and inspection.kind == "service"
    assert inspection.notes == ["service client orders, scopes: stock:reserve"]
    service_client.is_active = False
    service_client.save()
    assert token_inspect(token).reason == "revoked: the service client is deactivated"
    assert token_inspect(sign(token_type="service", sub="service:orders", aud="products", scope="x")).reason.startswith(
        "wrong type: a service token never carries a session"
    )


def test_password_reset_tokens(client, api, users, mailoutbox):
    client.post("/password-reset/", {"email": "bob@example.com"})
    token = mailoutbox[-1].body.split("/password-reset/")[1].split("/")[0]
    inspection = token_inspect(token)
    assert inspection.valid and inspection.kind == "password_reset"
    assert inspection.notes == ["resets the password of bob"]
    api.post(
        "/api/password-reset/confirm/", {"token": token, "new_password": "a brand new passphrase 42"}, format="json"
    )
    assert token_inspect(token).reason == "revoked: reset link already used"
    assert token_inspect(token, expected_type="access").reason.startswith("wrong type")


@pytest.mark.parametrize("raw", ["", "garbage", "a.b.c", "x" * 20000, "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."])
def test_malformed_input_is_explained_not_raised(raw):
    inspection = token_inspect(raw)
    assert not inspection.valid and inspection.reason


def test_alg_none_is_not_accepted(users):
    unsigned = jwt.encode(jwt.decode(sign(), options={"verify_signature": False}), key=None, algorithm="none")
    assert token_inspect(unsigned).reason.startswith("algorithm not allowed")


def test_the_command_prints_header_claims_dates_and_the_verdict(bob_tokens):
    out = io.StringIO()
    call_command("inspect_token", bob_tokens["access"], stdout=out)
    text = out.getvalue()
    assert text.startswith("Header\n  alg")
    assert "Claims\n" in text and "token_type  access" in text
    assert "exp" in text and time.strftime("%Y-%m-%dT", time.gmtime()) in text
    assert "Verifies: a valid access token" in text


def test_the_command_fails_with_the_reason(users):
    with pytest.raises(CommandError, match="Does not verify: expired"):
        call_command("inspect_token", sign(exp=int(time.time()) - 10), stdout=io.StringIO())


def test_the_command_reads_standard_input(bob_tokens, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(bob_tokens["access"] + "\n"))
    out = io.StringIO()
    call_command("inspect_token", "-", "--audience", "orders", "--type", "access", stdout=out)
    assert "Verifies" in out.getvalue()


def test_the_page_is_for_staff_only(client, users):
    assert client.get("/inspect/").status_code == 302
    client.force_login(users["bob"])
    response = client.get("/inspect/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_page_inspects_a_posted_token(client, users, bob_tokens):
    client.force_login(users["alice"])
    assert client.get("/inspect/").status_code == 200
    response = client.post("/inspect/", {"token": bob_tokens["access"], "audience": "", "expected_type": ""})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert b"Verifies: a valid access token" in response.content
    assert b"token_type" in response.content
    expired = client.post("/inspect/", {"token": sign(exp=int(time.time()) - 10), "expected_type": ""})
    assert b"Does not verify: expired" in expired.content
