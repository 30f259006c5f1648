"""The verification shortcuts (header parsed once per key, verified-token cache) never weaken the policy."""

import base64
import json

import pytest

from sso_client.verify import TokenRejected, _unverified_header, token_verify
from tests.keys import jwks, mint_token


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_header_is_parsed_once_per_key_not_per_token():
    _unverified_header.cache_clear()
    for _ in range(5):
        token_verify(mint_token())
    info = _unverified_header.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_a_known_header_does_not_spare_the_signature_check():
    good = mint_token(roles=[])
    token_verify(good)  # its header is now cached
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    with pytest.raises(TokenRejected) as info:
        token_verify(".".join([header, b64(json.dumps(claims).encode()), signature]))
    assert info.value.reason == "bad signature"


def test_refused_headers_are_not_remembered():
    _unverified_header.cache_clear()
    hostile = b64(json.dumps({"alg": "RS256", "kid": "test-main", "crit": ["x"], "x": 1}).encode())
    payload = mint_token().split(".")[1]
    for _ in range(3):
        with pytest.raises(TokenRejected):
            token_verify(f"{hostile}.{payload}.c2ln")
    assert _unverified_header.cache_info().currsize == 0


def test_made_up_headers_cannot_grow_the_header_cache(monkeypatch):
    monkeypatch.setattr("sso_client.http.fetch_json", lambda url: jwks())  # the unknown kids' one refetch
    _unverified_header.cache_clear()
    payload = mint_token().split(".")[1]
    for n in range(200):
        header = b64(json.dumps({"alg": "RS256", "kid": f"made-up-{n}"}).encode())
        with pytest.raises(TokenRejected):
            token_verify(f"{header}.{payload}.c2ln")
    assert _unverified_header.cache_info().currsize <= _unverified_header.cache_info().maxsize == 64
