"""OAuth clients: registering a relying app as an OpenID Connect client (`manage.py create_client`, the admin,
seed_demo), its secret shown once, client authentication at the OAuth endpoints under the per-address
throttle that service clients already have, and people's consent to clients that are not first-party."""

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.text import slugify

from ..http import origin_of
from ..models import AuditEvent, Consent, RelyingApp
from ..selectors import client_origins
from . import throttles
from .audit import audit_record
from .service_clients import THROTTLE_NAMESPACE, ClientThrottled

logger = logging.getLogger(__name__)

Client = TypeVar("Client")


class ClientRegistrationError(Exception):
    """The client cannot be registered as asked: the message says which value is wrong."""


@dataclass(frozen=True)
class RegisteredClient:
    client: RelyingApp
    client_secret: str | None  # None for a public client


def _uri_check(uri: str, *, what: str) -> str:
    # Absolute http(s) URIs without a fragment (RFC 6749 section 3.1.2) or userinfo: they are matched exactly,
    # so what is registered is what a browser will be sent to.
    parts = urlsplit(uri)
    try:
        URLValidator(schemes=["http", "https"])(uri)
    except ValidationError as e:
        raise ClientRegistrationError(f"{what} {uri!r} is not an absolute http(s) URL.") from e
    if parts.fragment or "@" in parts.netloc:
        raise ClientRegistrationError(f"{what} {uri!r} may not have a fragment or userinfo.")
    return uri


def client_secret_generate(*, client: RelyingApp) -> str:
    """Give a confidential client a new random secret and return it: the only time it is ever seen. The old
    one stops working at once."""
    raw_secret = secrets.token_urlsafe(32)
    client.set_client_secret(raw_secret)
    client.save(update_fields=["client_secret_hash"])
    logger.info("auth event=client_secret_set client=%s", client.client_id)
    return raw_secret


def client_register(
    *,
    name: str,
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str] = (),
    backchannel_logout_uri: str = "",
    public: bool = False,
    audience: str = "",
    is_first_party: bool = False,
    usernames: Sequence[str] = (),
    group_names: Sequence[str] = (),
) -> RegisteredClient:
    """A new relying app that is an OpenID Connect client: its audience defaults to a slug of `name`, its origin
    is the first redirect URI's, and a confidential client gets a secret (returned here, stored hashed). The
    people named in `usernames`, and the members of `group_names`, may use it (their tokens name it in `aud`).

    Registering is all the issuer needs: the redirect allowlist, CSP and (first-party) CORS read the clients
    (issuer.selectors.client_origins)."""
    if not redirect_uris:
        raise ClientRegistrationError("At least one redirect URI is needed.")
    redirect_uris = [_uri_check(uri, what="Redirect URI") for uri in redirect_uris]
    post_logout_redirect_uris = [_uri_check(uri, what="Post-logout redirect URI") for uri in post_logout_redirect_uris]
    if backchannel_logout_uri:
        _uri_check(backchannel_logout_uri, what="Back-channel logout URI")
    users = list(get_user_model().objects.filter(username__in=usernames))
    groups = list(Group.objects.filter(name__in=group_names))
    missing = sorted(set(usernames) - {user.get_username() for user in users}) + sorted(
        set(group_names) - {group.name for group in groups}
    )
    if missing:
        raise ClientRegistrationError(f"No such user or group: {', '.join(missing)}.")
    client = RelyingApp(
        name=name,
        audience=audience or slugify(name)[:50],
        origin=origin_of(redirect_uris[0]),
        client_type=RelyingApp.ClientType.PUBLIC if public else RelyingApp.ClientType.CONFIDENTIAL,
        redirect_uris="\n".join(redirect_uris),
        post_logout_redirect_uris="\n".join(post_logout_redirect_uris),
        backchannel_logout_uri=backchannel_logout_uri,
        is_first_party=is_first_party,
    )
    try:
        client.full_clean()
    except ValidationError as e:
        raise ClientRegistrationError(
            "; ".join(f"{field}: {' '.join(m)}" for field, m in e.message_dict.items())
        ) from e
    with transaction.atomic():
        client.save()
        client.users.set(users)
        client.groups.set(groups)
    logger.info("auth event=client_registered client=%s audience=%s", client.client_id, client.audience)
    return RegisteredClient(client, None if public else client_secret_generate(client=client))


def client_authenticate_throttled(*, ip: str | None, authenticate: Callable[[], Client]) -> Client:
    """Run `authenticate` (which raises when the client's credentials are wrong) under the per-address budget of
    failed client authentications that the service-token endpoint has: counted before the secret is checked,
    taken back on success, ClientThrottled past the limit. Per address only: a per-client lockout would let
    anyone lock a client out."""
    retry_after = throttles.attempt_begin(username=None, ip=ip, namespace=THROTTLE_NAMESPACE)
    if retry_after is not None:
        raise ClientThrottled(retry_after)
    client = authenticate()
    throttles.attempt_succeeded(username=None, ip=ip, namespace=THROTTLE_NAMESPACE)
    return client


def consent_covers(*, user: AbstractBaseUser, client: RelyingApp, scope: str) -> bool:
    """Whether the person already said yes to `client` for every scope in `scope` (first-party clients need not ask)."""
    if client.is_first_party:
        return True
    consent = Consent.objects.filter(user=user, client=client).first()
    return consent is not None and set(scope.split()) <= set(consent.scope.split())


def consent_grant(*, user: AbstractBaseUser, client: RelyingApp, scope: str, ip: str | None = None) -> None:
    """Remember the person's yes to `client` for `scope`, beside what they allowed before."""
    consent = Consent.objects.filter(user=user, client=client).first()
    granted = dict.fromkeys([*(consent.scope.split() if consent else []), *scope.split()])
    Consent.objects.update_or_create(user=user, client=client, defaults={"scope": " ".join(granted)})
    audit_record(
        kind=AuditEvent.Kind.CONSENT_GRANTED, user=user, ip=ip, detail=f"client={client.client_id} scope={scope}"
    )


def registered_client_origins() -> frozenset[str]:
    """Where the issuer's sign-in, consent and sign-out forms may lead (settings SSO_CSP_FORM_ACTION_ORIGINS,
    asked for each HTML page): every origin an active client registered."""
    return client_origins().pages


def script_client_origins() -> frozenset[str]:
    """The registered origins whose script may call the issuer with the person's cookies (settings
    SSO_CORS_EXTRA_ORIGINS): first-party clients' own origins."""
    return client_origins().scripts
