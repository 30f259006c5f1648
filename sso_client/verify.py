"""The verification policy: exactly what a relying app accepts as an access token.

RS256 only, a `kid` naming a published key, exact `iss`, this app in `aud`, `exp` required, `token_type`
access, a live session (`sid` not revoked), a small leeway. Verified tokens are remembered (keyed by the
whole token, bounded in number), and a remembered token is still re-checked for expiry, revocation and
its key still being published, so the cache never outlives a refusal."""

import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import jwt

from . import clock, metrics
from .claims import ACCESS_REQUIRED_CLAIMS
from .conf import oidc_mode, sso_settings
from .ended_sessions import session_ended
from .jws import MalformedToken, header_read, shape_checked_jwt_requiring
from .state import UnknownKey, issuer_state

logger = logging.getLogger(__name__)


class TokenRejected(Exception):
    """The token is not acceptable here; `reason` says why, for logs and the inspector, never for clients."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedToken:
    raw: str
    claims: dict[str, Any]
    kid: str

    @property
    def sid(self) -> str:
        return self.claims["sid"]

    @property
    def exp(self) -> int:
        return self.claims["exp"]


class _VerifiedCache:
    """A bounded LRU of tokens whose signature and claims were verified, keyed by the whole token."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, VerifiedToken] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, raw: str) -> VerifiedToken | None:
        with self._lock:
            entry = self._entries.get(raw)
            if entry is not None:
                self._entries.move_to_end(raw)
            return entry

    def put(self, raw: str, token: VerifiedToken, max_size: int) -> None:
        with self._lock:
            self._entries[raw] = token
            self._entries.move_to_end(raw)
            while len(self._entries) > max_size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


verified_cache = _VerifiedCache()


def _still_valid(token: VerifiedToken, leeway: int) -> None:
    """The checks that can change after a token was first verified."""
    if clock.now() >= token.exp + leeway:
        raise TokenRejected("expired")
    if issuer_state.is_revoked(token.sid):
        raise TokenRejected("session revoked")
    # A back-channel logout reached this site before the revocation list did (any-domain mode only: it is
    # the only mode that receives them, and the lookup costs a cache read).
    if oidc_mode() and session_ended(token.sid):
        raise TokenRejected("session ended by back-channel logout")
    if not issuer_state.is_published(token.kid):
        raise TokenRejected("signing key no longer published")


@functools.lru_cache(maxsize=64)
def _unverified_header(segment: str) -> Mapping[str, Any]:
    """The JOSE header in a token's first segment, duplicate-free (sso_client.jws) and read by PyJWT, only to
    pick the key: the decode reads it once more as part of the signed input. Every token signed by one key
    has the same header segment, so it is parsed once per key, not per token; the cache is bounded, so a
    flood of made-up headers only evicts entries, and refusals (exceptions) are never cached."""
    return MappingProxyType(header_read(segment))


def signed_claims_verify(
    raw: str,
    *,
    required: tuple[str, ...],
    audience: str | None = None,
    algorithms: Sequence[str] | None = None,
    typ: str | None = None,
) -> tuple[dict[str, Any], str]:
    """What every token this app accepts passes first, whatever it is for: an allowed algorithm, a `kid`
    naming a published key, a good signature, exact `iss`, this app in `aud`, the `required` claims, current
    time claims, and the shapes of sso_client.jws (duplicate members, odd claim types, hostile nesting).
    Returns the claims and the kid, or raises TokenRejected. The access-token policy (token_verify), the
    service-token policy (sso_client.service) and OpenID Connect's ID and logout tokens (sso_client.oidc,
    which name their own `audience`, the client id, and header `typ`) all start here."""
    conf = sso_settings()
    leeway = conf["LEEWAY_SECONDS"]
    algorithms = list(algorithms or conf["ALGORITHMS"])
    if raw.count(".") != 2:
        raise TokenRejected("malformed")
    try:
        header = _unverified_header(raw.partition(".")[0])
    except (MalformedToken, jwt.InvalidTokenError) as e:
        raise TokenRejected("malformed") from e
    kid = header.get("kid")
    if header.get("alg") not in algorithms:
        raise TokenRejected("algorithm not allowed")
    if typ is not None and header.get("typ") != typ:
        raise TokenRejected("wrong token type")
    if not isinstance(kid, str) or not 0 < len(kid) <= 128:
        raise TokenRejected("missing or malformed kid")
    if header.get("crit") is not None:
        # No extension is understood here, so RFC 7515 says a token that marks any as critical is refused.
        raise TokenRejected("unsupported critical header")
    try:
        key = issuer_state.key_for(kid)
    except UnknownKey as e:
        raise TokenRejected("unknown kid") from e
    try:
        # One decode: each segment base64url-decoded once, the payload parsed and shape-checked once.
        claims = shape_checked_jwt_requiring(required).decode(
            raw,
            key.key,
            algorithms=algorithms,
            audience=audience or conf["AUDIENCE"],
            issuer=conf["ISSUER"],
            leeway=leeway,
        )
    except MalformedToken as e:
        raise TokenRejected("malformed") from e
    except jwt.ExpiredSignatureError as e:
        raise TokenRejected("expired") from e
    except jwt.InvalidAudienceError as e:
        raise TokenRejected("wrong audience") from e
    except jwt.InvalidIssuerError as e:
        raise TokenRejected("wrong issuer") from e
    except jwt.InvalidSignatureError as e:
        raise TokenRejected("bad signature") from e
    except jwt.MissingRequiredClaimError as e:
        raise TokenRejected(f"missing claim {e.claim}") from e
    except jwt.ImmatureSignatureError as e:
        raise TokenRejected("not yet valid") from e
    except jwt.InvalidTokenError as e:
        raise TokenRejected("invalid") from e
    return claims, kid


def token_verify(raw: str) -> VerifiedToken:
    """Verify an access token for this app, or raise TokenRejected."""
    conf = sso_settings()
    leeway = conf["LEEWAY_SECONDS"]
    if len(raw) > conf["MAX_TOKEN_BYTES"]:
        raise TokenRejected("token too large")
    cached = verified_cache.get(raw)
    if cached is not None:
        issuer_state.ensure_started()
        _still_valid(cached, leeway)
        metrics.VERIFIED_CACHED.inc()
        return cached
    claims, kid = signed_claims_verify(raw, required=ACCESS_REQUIRED_CLAIMS)
    # Claim types (sub and sid strings, roles a list of strings) were settled by claims_shape_check.
    if claims["token_type"] != "access":
        raise TokenRejected("wrong token type")
    token = VerifiedToken(raw=raw, claims=claims, kid=kid)
    _still_valid(token, leeway)
    verified_cache.put(raw, token, conf["VERIFIED_CACHE_SIZE"])
    metrics.VERIFIED_COLD.inc()
    return token
