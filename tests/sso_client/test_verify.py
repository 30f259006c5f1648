"""The verification policy, one hostile token per case."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.cache import cache

from sso_client import clock
from sso_client.revocations import REVOKED_KEY
from sso_client.state import issuer_state
from sso_client.verify import TokenRejected, token_verify
from tests.keys import jwks, mint_token, private_key, public_jwk


def rejected(token: str) -> str:
    with pytest.raises(TokenRejected) as info:
        token_verify(token)
    return info.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_good_token_verifies_and_yields_its_claims():
    token = token_verify(mint_token(username="bob", roles=["catalog_manager"]))
    assert token.claims["username"] == "bob"
    assert token.claims["roles"] == ["catalog_manager"]
    assert token.kid == "test-main"


def test_tampered_payload_is_rejected():
    header, payload, signature = mint_token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    forged = ".".join([header, b64(json.dumps(claims).encode()), signature])
    assert rejected(forged) == "bad signature"


def test_bad_signature_is_rejected():
    header, payload, signature = mint_token().split(".")
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    assert rejected(".".join([header, payload, flipped])) == "bad signature"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_rejected(alg):
    header = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": "test-main"}).encode())
    payload = mint_token().split(".")[1]
    assert rejected(f"{header}.{payload}.") == "algorithm not allowed"


def test_hs256_signed_with_the_public_key_is_rejected():
    pem = (
        private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "test-main"}).encode())
    payload = mint_token().split(".")[1]
    signature = b64(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert rejected(f"{header}.{payload}.{signature}") == "algorithm not allowed"


def test_expired_token_is_rejected():
    assert rejected(mint_token(exp=int(time.time()) - 120, iat=int(time.time()) - 600)) == "expired"


def test_expiry_within_the_leeway_is_accepted():
    assert token_verify(mint_token(exp=int(time.time()) - 5))


def test_missing_exp_is_rejected():
    assert rejected(mint_token(exp=None)) == "missing claim exp"


def test_wrong_issuer_is_rejected():
    assert rejected(mint_token(iss="http://localhost:8000/evil")) == "wrong issuer"
    assert rejected(mint_token(iss="http://localhost:800")) == "wrong issuer"


def test_token_for_another_app_is_rejected():
    assert rejected(mint_token(aud=["products"])) == "wrong audience"


def test_refresh_token_is_rejected():
    assert rejected(mint_token(token_type="refresh")) == "wrong token type"


def test_unknown_kid_is_rejected_after_one_refetch(monkeypatch):
    calls = []
    monkeypatch.setattr("sso_client.http.fetch_json", lambda url: calls.append(url) or {"keys": [public_jwk()]})
    cache.set(
        "sso_client:discovery",
        {"issuer": "http://localhost:8000", "jwks_uri": "http://localhost:8000/.well-known/jwks.json"},
    )
    for _ in range(20):
        assert rejected(mint_token(headers={"kid": f"random-{time.time_ns()}"})) == "unknown kid"
    assert calls == ["http://localhost:8000/.well-known/jwks.json"], "a flood of unknown kids costs one fetch"


def test_a_new_key_is_picked_up_on_its_first_unknown_kid(monkeypatch):
    monkeypatch.setattr("sso_client.http.fetch_json", lambda url: jwks("main", "next"))
    cache.set(
        "sso_client:discovery",
        {"issuer": "http://localhost:8000", "jwks_uri": "http://localhost:8000/.well-known/jwks.json"},
    )
    assert token_verify(mint_token(key="next")).kid == "test-next"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.b.c", "a.b.c.d", "....", "Bearer", "é.é.é", "x" * 9000])
def test_garbage_is_rejected(garbage):
    rejected(garbage)


def test_revoked_session_is_rejected_even_when_cached():
    raw = mint_token(sid="to-revoke")
    assert token_verify(raw)
    cache.set(REVOKED_KEY, {"sids": ["to-revoke"], "fetched_at": time.time()}, timeout=None)
    issuer_state.sync()
    assert rejected(raw) == "session revoked"


def test_an_evicted_revocation_list_never_lets_a_revoked_session_back_in(monkeypatch):
    """The shared cache may evict the list (a full local-memory cache, Redis under `allkeys-*`): this
    process keeps the copy it holds, and a refetch fills the cache again. Here the issuer is unreachable
    for that refetch, the worst case: the revoked session stays refused."""
    from sso_client.http import FetchError

    raw = mint_token(sid="revoked-before-eviction")
    cache.set(REVOKED_KEY, {"sids": ["revoked-before-eviction"], "fetched_at": time.time()}, timeout=None)
    issuer_state.sync()
    assert rejected(raw) == "session revoked"

    def unreachable(url, **kwargs):
        raise FetchError("connection refused")

    monkeypatch.setattr("sso_client.http.fetch_json", unreachable)
    cache.clear()  # everything evicted: the list, the JWKS, the fetch claims
    later = time.time() + 60
    monkeypatch.setattr(clock, "now", lambda: later)
    issuer_state.sync()
    assert issuer_state.is_revoked("revoked-before-eviction")
    monkeypatch.setattr(
        "sso_client.http.fetch_json", lambda url, **kwargs: {"revoked_sids": ["revoked-before-eviction"], "kids": None}
    )
    monkeypatch.setattr(clock, "now", lambda: later + 60)
    issuer_state.sync()
    assert cache.get(REVOKED_KEY)["sids"] == ["revoked-before-eviction"], "the refetch filled the cache again"
    assert issuer_state.is_revoked("revoked-before-eviction")


def test_a_cold_process_with_the_list_evicted_fetches_it_although_another_holds_the_claim(monkeypatch):
    """A process that never held a list, finding none in the shared cache while another process holds this
    window's fetch claim, asks the issuer itself rather than accept revoked sessions until that fetch lands;
    and it does so at most once per interval while the issuer is down."""
    from sso_client.conf import sso_settings
    from sso_client.fetch_claims import window_key
    from sso_client.http import FetchError

    issuer_state.reset()
    cache.delete(REVOKED_KEY)
    interval = sso_settings()["REVOCATION_REFRESH_SECONDS"]
    now = time.time()
    monkeypatch.setattr(clock, "now", lambda: now)
    cache.add(window_key("sso_client:revoked-fetch", interval), now, timeout=10)  # another process's claim
    calls = []

    def revocations(url, **kwargs):
        calls.append(url)
        if "revocations" not in url:
            raise FetchError("not this test's concern")
        return {"revoked_sids": ["revoked-elsewhere"], "kids": None}

    monkeypatch.setattr("sso_client.http.fetch_json", revocations)
    issuer_state.revocations.refresh()
    assert issuer_state.is_revoked("revoked-elsewhere")

    issuer_state.reset()
    cache.delete(REVOKED_KEY)

    def down(url, **kwargs):
        calls.append(url)
        raise FetchError("connection refused")

    monkeypatch.setattr("sso_client.http.fetch_json", down)
    calls.clear()
    for _ in range(20):
        issuer_state.revocations.refresh()
    assert len(calls) == 1, "an unreachable issuer is asked once per interval, not on every poll"


def test_cached_token_still_expires(monkeypatch):
    raw = mint_token(exp=int(time.time()) + 60)
    assert token_verify(raw)
    monkeypatch.setattr(clock, "now", lambda: time.time() + 3600)
    assert rejected(raw) == "expired"


def test_token_of_a_key_no_longer_published_is_rejected_even_when_cached():
    raw = mint_token()
    assert token_verify(raw)
    issuer_state.jwks.keys = {}
    assert rejected(raw) == "signing key no longer published"


def test_crit_header_is_rejected():
    assert rejected(mint_token(headers={"crit": ["x-unknown"], "x-unknown": 1})) in (
        "unsupported critical header",
        "malformed",
    )


def test_keys_of_another_type_in_the_jwks_are_ignored():
    from sso_client.keys import jwks_parse

    parsed = jwks_parse({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}, public_jwk()]})
    assert list(parsed) == ["test-main"]


def test_hs256_token_with_empty_secret_is_rejected():
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "test-main"}).encode())
    payload = mint_token().split(".")[1]
    signature = b64(hmac.new(b"", f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert rejected(f"{header}.{payload}.{signature}") == "algorithm not allowed"
