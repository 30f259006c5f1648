"""Test signing keys, generated once per test session (never committed), and `mint_token` for the
hostile cases: every odd token is one call with the claims or headers to change."""

import time
import uuid
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

# Bound at import, before tests/conftest.py pools the function: these keys live for the session under their
# names, so they must never be one of the pooled keys a test's issuer draws.
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from jwt.algorithms import RSAAlgorithm

ISSUER = "http://localhost:8000"


def private_key(name: str = "main") -> rsa.RSAPrivateKey:
    return _named_key(name)


@cache  # by name alone: `private_key()` and `private_key("main")` are the one published key, generated once
def _named_key(name: str) -> rsa.RSAPrivateKey:
    return generate_private_key(public_exponent=65537, key_size=2048)


def kid_of(name: str = "main") -> str:
    return f"test-{name}"


def public_jwk(name: str = "main") -> dict[str, Any]:
    jwk = RSAAlgorithm.to_jwk(private_key(name).public_key(), as_dict=True)
    return {**jwk, "kid": kid_of(name), "use": "sig", "alg": "RS256"}


def jwks(*names: str) -> dict[str, Any]:
    return {"keys": [public_jwk(name) for name in (names or ("main",))]}


def claims_for(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "2",
        "aud": ["sso", "orders", "products"],
        "exp": now + 300,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "token_type": "access",
        "sid": "session-1",
        "username": "bob",
        "roles": [],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def mint_token(
    *, key: str = "main", headers: dict[str, Any] | None = None, algorithm: str = "RS256", **claims: Any
) -> str:
    """An RS256 token from the test key, with `claims` overriding the defaults (None drops a claim)."""
    header = {"kid": kid_of(key), **(headers or {})}
    return jwt.encode(claims_for(**claims), private_key(key), algorithm=algorithm, headers=header)
