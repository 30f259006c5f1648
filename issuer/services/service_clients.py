"""Service clients: a service proves who it is with its client id and secret and gets a short-lived RS256
token for one relying app (OAuth 2.0's client-credentials grant). Views, the admin and seeding call these."""

import logging
import secrets
from dataclasses import dataclass

from .. import clock
from ..models import SECRET_DIGEST_PREFIX, AuditEvent, ServiceClient
from ..signing.tokens import SSOServiceToken
from . import throttles
from .audit import audit_record

logger = logging.getLogger(__name__)

# Failed client authentications are counted per address in this namespace (issuer.services.throttles), here and
# at the OAuth endpoints (issuer.services.oauth_clients): one budget, whichever endpoint a guesser tries.
THROTTLE_NAMESPACE = "service-client"


class ServiceTokenError(Exception):
    """Base for every refusal of the service-token endpoint; the API layer turns each into a 4xx."""


class InvalidClient(ServiceTokenError):
    """Unknown client, wrong secret or inactive client: deliberately indistinguishable."""


class ClientThrottled(ServiceTokenError):
    """Too many failed attempts for this client id or from this address (issuer.services.throttles, the same limits
    as sign-on); try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class AudienceNotAllowed(ServiceTokenError):
    """The client asked for a token for an app it may not call, or one that does not exist."""


class ScopeNotAllowed(ServiceTokenError):
    """The client asked for a scope it was not granted."""


@dataclass(frozen=True)
class ServiceTokenGrant:
    access_token: str
    expires_in: int
    audience: str
    scope: str

    def response_body(self) -> dict:
        """The token answer (RFC 6749 section 5.1), at /api/service-token/ and at the OAuth token endpoint alike."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "audience": self.audience,
            "scope": self.scope,
        }


def service_client_secret_set(*, client: ServiceClient, raw_secret: str) -> None:
    """Store a new secret (as a keyed digest, ServiceClient.check_secret); the old one stops working at once."""
    client.set_secret(raw_secret)
    client.secret_changed_at = clock.now()
    client.save(update_fields=["secret_hash", "secret_changed_at"])


def service_client_secret_generate(*, client: ServiceClient) -> str:
    """Give the client a new random secret and return it: the only time it is ever seen."""
    raw_secret = secrets.token_urlsafe(32)
    service_client_secret_set(client=client, raw_secret=raw_secret)
    return raw_secret


def service_client_authenticate(*, client_id: str, client_secret: str, ip: str | None = None) -> ServiceClient:
    """Check a client's credentials. An unknown client costs one digest too, so unknown, inactive and
    wrong-secret attempts take the same time and fail the same way. Attempts are throttled per address (in
    their own namespace, not per client: a per-client lockout would let anyone lock a client out), which
    bounds both secret guessing and making the issuer hash."""
    retry_after = throttles.attempt_begin(username=None, ip=ip, namespace=THROTTLE_NAMESPACE)
    if retry_after is not None:
        raise ClientThrottled(retry_after)
    client = ServiceClient.objects.filter(client_id=client_id).first()
    if client is None:
        ServiceClient(secret_hash=SECRET_DIGEST_PREFIX).check_secret(client_secret)
        valid = False
    else:
        valid = client.check_secret(client_secret) and client.is_active
    if not valid:
        audit_record(
            kind=AuditEvent.Kind.SERVICE_TOKEN_REFUSED, username=f"service:{client_id}", ip=ip, detail="invalid client"
        )
        raise InvalidClient
    throttles.attempt_succeeded(username=None, ip=ip, namespace=THROTTLE_NAMESPACE)
    return client


def service_token_issue(
    *, client: ServiceClient, audience: str, scope: str = "", ip: str | None = None
) -> ServiceTokenGrant:
    """A token for `client` to call the app `audience`: `sub` service:<client id>, that one `aud`, the
    requested scopes (all the client's scopes when none are asked for), no user and no session."""
    if not client.audiences.filter(audience=audience, is_active=True).exists():
        audit_record(
            kind=AuditEvent.Kind.SERVICE_TOKEN_REFUSED,
            username=client.subject,
            ip=ip,
            detail=f"audience={audience} not allowed",
        )
        raise AudienceNotAllowed
    granted = client.scope_list
    requested = scope.split() or granted
    if not set(requested) <= set(granted):
        audit_record(
            kind=AuditEvent.Kind.SERVICE_TOKEN_REFUSED, username=client.subject, ip=ip, detail="scope not allowed"
        )
        raise ScopeNotAllowed
    scopes = " ".join(dict.fromkeys(requested))
    token = SSOServiceToken()
    now = clock.now()
    token.set_iat(at_time=now)
    token.set_exp(from_time=now)
    token["sub"] = client.subject
    token["aud"] = audience
    token["scope"] = scopes
    audit_record(
        kind=AuditEvent.Kind.SERVICE_TOKEN_ISSUED,
        username=client.subject,
        ip=ip,
        detail=f"aud={audience} scope={scopes}",
    )
    return ServiceTokenGrant(str(token), int(token.lifetime.total_seconds()), audience, scopes)
