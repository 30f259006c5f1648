"""Every hostile-token case (tests/hostile_tokens.CASES) in-process against the relying verifier,
sso_client.verify.token_verify, under this group's settings: orders' audience here, products' in
tests/products, which collects these same tests. Every case is refused and fetches nothing a token names;
sso_client.authentication turns every refusal into one generic 401, which tests/security proves at the
running sites with a representative set."""

import json
import time
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache

from sso_client.keys import DISCOVERY_KEY
from sso_client.verify import TokenRejected, token_verify
from tests import forge, keys
from tests.hostile_tokens import CASES, Ctx
from tests.refusals import FAST_SECONDS

JWKS_URI = f"{keys.ISSUER}/.well-known/jwks.json"
# What a token's jku or x5u names: never fetched (every fetch is recorded below; none reaches the network).
LISTENER_URL = "http://127.0.0.1:9"


@pytest.fixture
def fetched(monkeypatch) -> list[str]:
    """The URLs the verifier fetches: an unknown kid may refetch the issuer's JWKS, nothing else."""
    calls: list[str] = []
    monkeypatch.setattr("sso_client.http.fetch_json", lambda url: calls.append(url) or keys.jwks())
    cache.set(DISCOVERY_KEY, {"issuer": keys.ISSUER, "jwks_uri": JWKS_URI})
    return calls


def _refresh_token(*, sub: str, sid: str) -> str:
    """A refresh token shaped as the issuer makes them (HS256 with a secret only the issuer holds)."""
    now = int(time.time())
    claims = {
        "iss": keys.ISSUER,
        "sub": sub,
        "aud": keys.ISSUER,
        "exp": now + 3600,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "token_type": "refresh",
        "sid": sid,
    }
    return forge.hmac_signed({"alg": "HS256", "typ": "JWT"}, claims, b"the issuer's refresh-token secret")


@pytest.fixture(scope="module")
def ctx() -> Ctx:
    """This site's verifier as tests/conftest.relying_app sets it up: the test key published, bob signed on."""
    bob = {"sub": "2", "sid_claim": "session-1"}
    ctx = Ctx(
        issuer_url=keys.ISSUER,
        audience=settings.SSO_CLIENT["AUDIENCE"],
        bob=bob,
        jwks_body=json.dumps(keys.jwks()).encode(),
        listener_url=LISTENER_URL,
        kid=keys.kid_of("main"),
        signing_key=keys.private_key("main"),
    )
    access = ctx.signed()
    bob.update(access=access, claims=forge.decoded(access)[1], refresh=_refresh_token(sub=bob["sub"], sid="session-1"))
    return ctx


def test_control_a_well_formed_token_signed_with_the_issuer_key_is_accepted(ctx, fetched):
    """The baseline every hostile case below departs from by one change."""
    for token in (ctx.signed(), ctx.bob["access"]):
        assert token_verify(token).claims["sub"] == ctx.bob["sub"]
    assert fetched == []


# The cache holds only the test JWKS here, read the same from any backend: no second run on Redis.
@pytest.mark.storage_independent
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_token_gets_a_fast_generic_401(ctx, fetched, case):
    token = CASES[case](ctx)
    started = time.monotonic()
    with pytest.raises(TokenRejected) as refused:
        token_verify(token)
    assert time.monotonic() - started < FAST_SECONDS
    assert refused.value.reason
    assert set(fetched) <= {JWKS_URI}, "a verifier fetched a URL named in a token"
