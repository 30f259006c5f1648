"""Service tokens at a relying app: what it accepts when another service calls it as itself.

A service token names a service client (`sub` service:<client id>), this one app (`aud`), and what the
client may do (`scope`); `token_type` is service and there is no `sid` and no user. The policy is separate
from the access-token policy and opt-in per view (ServiceTokenAuthentication + HasScope), so a person's
token never passes where a service is expected and a service token never passes where a person is: each
policy demands its own `token_type`, and only access tokens carry a session. Revocation is by deactivating
the client at the issuer, which stops new tokens; the ones issued expire within their short lifetime."""

from dataclasses import dataclass
from typing import Any

from .claims import SERVICE_REQUIRED_CLAIMS, SERVICE_SUBJECT_PREFIX
from .conf import sso_settings
from .verify import TokenRejected, signed_claims_verify


@dataclass(frozen=True)
class ServiceCaller:
    """`request.user` when a service calls: the client and its scopes. Never an SSOUser, so no permission
    meant for people (IsSSOAuthenticated, HasRole, IsStaff) lets it in."""

    sub: str
    scopes: frozenset[str]

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False

    @property
    def client_id(self) -> str:
        return self.sub.removeprefix(SERVICE_SUBJECT_PREFIX)

    @property
    def username(self) -> str:
        return self.sub

    @property
    def pk(self) -> str:
        return self.sub

    def get_username(self) -> str:
        return self.sub

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def __str__(self) -> str:
        return self.sub


@dataclass(frozen=True)
class VerifiedServiceToken:
    raw: str
    claims: dict[str, Any]
    kid: str


def service_token_verify(raw: str) -> VerifiedServiceToken:
    """Verify a service token for this app, or raise TokenRejected."""
    conf = sso_settings()
    if len(raw) > conf["MAX_TOKEN_BYTES"]:
        raise TokenRejected("token too large")
    claims, kid = signed_claims_verify(raw, required=SERVICE_REQUIRED_CLAIMS)
    if claims["token_type"] != "service" or "sid" in claims:
        raise TokenRejected("wrong token type")
    sub, aud = claims["sub"], claims["aud"]
    # sub and scope are strings already (claims_shape_check); the contract also fixes the subject's form.
    if not sub.startswith(SERVICE_SUBJECT_PREFIX):
        raise TokenRejected("malformed claims")
    # A service token is for one app: one that names others too could be replayed by any of them against us.
    if (aud if isinstance(aud, list) else [aud]) != [conf["AUDIENCE"]]:
        raise TokenRejected("wrong audience")
    return VerifiedServiceToken(raw=raw, claims=claims, kid=kid)


def service_caller_from(token: VerifiedServiceToken) -> ServiceCaller:
    return ServiceCaller(sub=token.claims["sub"], scopes=frozenset(token.claims["scope"].split()))
