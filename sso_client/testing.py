"""Test helpers for a site's own tests: a local issuer (a fresh signing key, its JWKS, tokens minted with
it, a revocation list of its own) that sso_client trusts in place of the real one, with no network.

    issuer = LocalIssuer(audience="shop")
    with issuer.installed():                   # or the `sso_issuer` fixture of sso_client.pytest_plugin
        token = issuer.mint(roles=["buyer"])   # an access token; None drops a claim: issuer.mint(sid=None)
        client.get("/orders/", HTTP_AUTHORIZATION=f"Bearer {token}")
        issuer.revoke(sid="session-1")         # every token of that session is refused from now on

The key is generated per LocalIssuer, never committed; tokens are signed by PyJWT with RS256 as the issuer
signs them, so they pass through the same verification policy as production tokens."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from jwt.algorithms import RSAAlgorithm

from . import clock
from .state import JWKS_KEY, REVOKED_KEY, issuer_state
from .verify import verified_cache

ISSUER = "https://sso.test"


class LocalIssuer:
    """A stand-in issuer: `installed()` makes sso_client trust it; `mint` and `revoke` act as the issuer."""

    def __init__(self, *, issuer: str = ISSUER, audience: str | None = None, kid: str = "local-test-key") -> None:
        self.issuer = issuer
        self.audience = audience
        self.kid = kid
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.revoked_sids: set[str] = set()

    def jwks(self) -> dict[str, Any]:
        """The JWKS publishing this issuer's key (what /.well-known/jwks.json serves)."""
        jwk = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """An access token's claims for the site's audience; `overrides` change them (None drops one)."""
        now = int(clock.now())
        audience = self.audience or getattr(settings, "SSO_CLIENT", {}).get("AUDIENCE")
        claims = {
            "iss": self.issuer,
            "sub": "1",
            "aud": [audience],
            "exp": now + 300,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "token_type": "access",
            "sid": "session-1",
            "username": "alice",
            "roles": [],
            **overrides,
        }
        return {name: value for name, value in claims.items() if value is not None}

    def mint(self, *, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        """A signed access token (RS256, this issuer's kid), `claims` overriding the defaults."""
        return jwt.encode(
            self.claims(**claims), self.private_key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})}
        )

    def service_token(self, *, client_id: str, scope: str, **claims: Any) -> str:
        """A service token (a service calling as itself: ServiceTokenAuthentication)."""
        return self.mint(
            sub=f"service:{client_id}", token_type="service", scope=scope, sid=None, username=None, roles=None, **claims
        )

    def revoke(self, *, sid: str) -> None:
        """End a session, as the issuer's published revocation list would."""
        self.revoked_sids.add(sid)
        self._publish()

    def _publish(self) -> None:
        # Placed in the cache exactly as the refresher leaves what it fetched, then reloaded from there.
        now = clock.now()
        cache.set(JWKS_KEY, {"jwks": self.jwks(), "fetched_at": now}, timeout=None)
        cache.set(REVOKED_KEY, {"sids": sorted(self.revoked_sids), "kids": [self.kid], "fetched_at": now}, timeout=None)
        issuer_state.reset()
        verified_cache.clear()
        issuer_state.sync()

    @contextmanager
    def installed(self) -> Iterator["LocalIssuer"]:
        """sso_client trusts this issuer (and nothing else) inside the block; no background refresh."""
        conf = {**getattr(settings, "SSO_CLIENT", {}), "ISSUER": self.issuer, "BACKGROUND_REFRESH": False}
        if self.audience:
            conf["AUDIENCE"] = self.audience
        with override_settings(SSO_CLIENT=conf):
            self._publish()
            try:
                yield self
            finally:
                issuer_state.reset()
                verified_cache.clear()
                cache.delete_many([JWKS_KEY, REVOKED_KEY])
