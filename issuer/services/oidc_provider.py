"""The OpenID Connect provider: Authlib's authorization server on the issuer's own clients (RelyingApp,
ServiceClient), sessions, refresh rotation and signing keys, so there is one session model and one token
family per sign-on. Authlib parses and validates the protocol; the issuer's services decide and sign.

`server` is the one instance; the views call it, and other modules register endpoints on it
(`server.register_endpoint(...)`)."""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from authlib.common.encoding import json_dumps
from authlib.common.urls import add_params_to_uri
from authlib.integrations.django_oauth2.requests import DjangoJsonRequest, DjangoOAuth2Request
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeGrant,
    ClientAuthentication,
    ClientCredentialsGrant,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    RefreshTokenGrant,
    TokenMixin,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode, OpenIDToken
from authlib.oidc.core.util import create_half_hash
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from rest_framework_simplejwt.exceptions import TokenError

from sso_client.jws import MalformedToken

from .. import clock, messages
from ..http import client_ip
from ..models import AuditEvent, AuthorizationCode, RelyingApp, ServiceClient, SSOSession
from ..signing import keys
from ..signing.oidc import ID_TOKEN_TYP, jwt_sign
from ..signing.tokens import IssuerCookieToken, refresh_token_read
from . import oauth_clients, service_clients
from .audit import audit_record, log_safe
from .errors import SignOnError
from .sessions import (
    MFARequired,
    TokenPair,
    client_session_start,
    code_replay_revoke,
    session_refresh,
    session_revoke,
)

logger = logging.getLogger(__name__)

SCOPES_SUPPORTED = ["openid", "profile", "email", "offline_access"]
# What each scope adds to the ID token and UserInfo (OpenID Connect Core 1.0 section 5.4).
SCOPE_CLAIMS = {
    "profile": ["preferred_username", "name", "given_name", "family_name"],
    "email": ["email", "email_verified"],
}
# What each scope lets a client see, in the consent page's words.
SCOPE_MEANINGS = {
    "openid": "that it is you (your account's identifier)",
    "profile": "your username and name",
    "email": "your email address",
    "offline_access": "to keep you signed in while you are away",
}
CODE_LIFETIME = timedelta(seconds=60)
NONCE_MAX_LENGTH = AuthorizationCode._meta.get_field("nonce").max_length
CLIENT_ID_MAX_LENGTH = RelyingApp._meta.get_field("client_id").max_length
# Public clients authenticate with "none" (PKCE alone); confidential ones with their secret, either way.
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
SECRET_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


# A client session whose sign-on proved no second factor, for an app that now requires one (a refresh never
# upgrades): the person signs in again through the authorization endpoint, which asks for it.
MFA_REQUIRED_DESCRIPTION = "This app requires a second factor: send the person through the authorization endpoint."


def code_digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def user_info_claims(*, user: AbstractBaseUser, scope: str) -> dict[str, Any]:
    """The claims about `user` that `scope` grants (ID token and UserInfo): `sub` always, profile and email
    claims by scope, only those the issuer knows (empty names are left out; no address is verified here)."""
    scopes = scope.split()
    claims: dict[str, Any] = {"sub": str(user.pk)}
    if "profile" in scopes:
        known = {
            "preferred_username": user.get_username(),
            "name": user.get_full_name(),
            "given_name": user.first_name,
            "family_name": user.last_name,
        }
        claims.update({name: value for name, value in known.items() if value})
    if "email" in scopes and user.email:
        claims.update(email=user.email, email_verified=False)
    return claims


def id_token_sign(*, session: SSOSession, client_id: str, access_token: str, nonce: str = "") -> str:
    """The ID token of a client session: RS256 with the active key (jwt_sign), `aud` and `azp` the client,
    the session's `sid`, when and how the person signed in, `at_hash` of the access token issued beside it.
    It has no `token_type`, so no relying app's access-token policy takes it."""
    now = clock.now()
    claims = {
        "aud": client_id,
        "azp": client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + settings.ACCESS_TOKEN_LIFETIME).timestamp()),
        "auth_time": int((session.auth_time or session.created_at).timestamp()),
        "sid": session.sid,
        "amr": session.amr or ["pwd"],
        "acr": session.acr or "urn:sso:1fa",
        "at_hash": create_half_hash(access_token, keys.ALGORITHM).decode("ascii"),
        **user_info_claims(user=session.user, scope=session.scope),
    }
    if nonce:
        claims["nonce"] = nonce
    return jwt_sign(claims, typ=ID_TOKEN_TYP)


class IssuerRequest(DjangoOAuth2Request):
    """Authlib's view of a Django request, with what the issuer's grants need besides: the caller's address
    (throttles, audit), the browser sign-on an authorization comes from, the client session a token answer is for."""

    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request)
        self.ip = client_ip(request)
        self.browser_session: SSOSession | None = None
        self.sso_session: SSOSession | None = None


class ClientAuthThrottled(OAuth2Error):
    """Too many failed client authentications from this address (issuer.services.oauth_clients)."""

    error = "invalid_client"
    status_code = 429
    description = "Too many failed client authentications. Try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


def _plausible_client_id(client_id: str | None) -> bool:
    """Worth a lookup: a client id is printable text of at most its column's length. Anything else names no
    client, and a NUL would make PostgreSQL refuse the query itself (a 500 instead of invalid_client)."""
    return bool(client_id) and len(client_id) <= CLIENT_ID_MAX_LENGTH and client_id.isprintable()


def _token_answer(request: IssuerRequest, issue: Callable[[], TokenPair], *, what: str) -> dict[str, Any]:
    """A grant's token answer from the session service that issues it, its refusals in OAuth's words."""
    try:
        pair = issue()
    except MFARequired as e:
        raise InvalidGrantError(MFA_REQUIRED_DESCRIPTION) from e
    except SignOnError as e:
        raise InvalidGrantError(f"The {what} is invalid, expired or already used.") from e
    request.sso_session = pair.session
    return token_body(pair)


class IssuerAuthorizationServer(AuthorizationServer):
    """Authlib's server for Django: clients are RelyingApp rows (and, for client credentials and introspection,
    ServiceClient rows), tokens come from issuer.services.sessions, which also stores them."""

    def __init__(self) -> None:
        super().__init__(scopes_supported=SCOPES_SUPPORTED)
        self.register_client_auth_method("client_secret_basic", _client_secret_basic)
        self._service_client_auth = ClientAuthentication(self.query_service_client)
        self._service_client_auth.register("client_secret_basic", _client_secret_basic)

    def query_client(self, client_id: str) -> RelyingApp | None:
        if not _plausible_client_id(client_id):
            return None
        return RelyingApp.objects.filter(client_id=client_id, is_active=True).first()

    def query_service_client(self, client_id: str) -> ServiceClient | None:
        if not _plausible_client_id(client_id):
            return None
        return ServiceClient.objects.filter(client_id=client_id, is_active=True).first()

    def authenticate_client(self, request: IssuerRequest, methods: list[str], endpoint: str = "token") -> RelyingApp:
        return self._throttled(
            request, lambda: super(IssuerAuthorizationServer, self).authenticate_client(request, methods, endpoint)
        )

    def authenticate_service_client(self, request: IssuerRequest, methods: list[str], endpoint: str) -> ServiceClient:
        return self._throttled(request, lambda: self._service_client_auth(request, methods, endpoint))

    def authenticate_any_client(
        self, request: IssuerRequest, methods: list[str], endpoint: str
    ) -> RelyingApp | ServiceClient:
        """A relying app, else a service client: one client_id ("orders") may name both, with their own secrets."""

        def authenticate() -> RelyingApp | ServiceClient:
            try:
                return super(IssuerAuthorizationServer, self).authenticate_client(request, methods, endpoint)
            except InvalidClientError:
                return self._service_client_auth(request, methods, endpoint)

        return self._throttled(request, authenticate)

    def _throttled(self, request: IssuerRequest, authenticate: Callable[[], Any]) -> Any:
        try:
            return oauth_clients.client_authenticate_throttled(ip=request.ip, authenticate=authenticate)
        except service_clients.ClientThrottled as e:
            raise ClientAuthThrottled(e.retry_after) from e
        except InvalidClientError:
            logger.info("auth event=client_auth_failed client=%s ip=%s", _safe_id(request), request.ip or "-")
            raise

    def get_authorization_grant(self, request: IssuerRequest) -> AuthorizationCodeGrant:
        if request.payload.response_type in IssuerCodeGrant.RESPONSE_TYPES:
            return super().get_authorization_grant(request)
        # Authlib's own refusal quotes response_type in its description, whose error class raises (a 500) on some
        # characters: the same refusal, redirected on the same terms (a known client, its registered URI), unquoted.
        client = self.query_client(request.payload.client_id or "")
        redirect_uri = request.payload.redirect_uri
        if client is None or not redirect_uri or not client.check_redirect_uri(redirect_uri):
            redirect_uri = None
        raise UnsupportedResponseTypeError(
            request.payload.response_type, "Only the 'code' response type is supported.", redirect_uri=redirect_uri
        )

    def save_token(self, token: dict, request: IssuerRequest) -> None:
        """Nothing to store: the session services saved the session and its refresh token's jti as they minted."""

    def create_oauth2_request(self, request: HttpRequest) -> IssuerRequest:
        if isinstance(request, IssuerRequest):
            return request
        return IssuerRequest(request)

    def create_json_request(self, request: HttpRequest) -> DjangoJsonRequest:
        return DjangoJsonRequest(request)

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> HttpResponse:
        response = HttpResponse(json_dumps(body) if isinstance(body, dict) else body, status=status)
        for name, value in headers:
            response[name] = value
        return response

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: the services audit what happens."""


def _client_secret_basic(query_client, request: IssuerRequest) -> RelyingApp | ServiceClient | None:
    # Authlib's, except that a Basic header that does not decode as UTF-8 carries no credentials (Authlib lets
    # the UnicodeDecodeError out: a 500).
    try:
        return authenticate_client_secret_basic(query_client, request)
    except UnicodeDecodeError:
        return None


def _safe_id(request: IssuerRequest) -> str:
    return log_safe((request.payload.client_id or "")[:100])


def token_body(pair: TokenPair) -> dict[str, Any]:
    """RFC 6749 section 5.1's answer for a client session's token pair."""
    return {
        "access_token": pair.access,
        "token_type": "Bearer",
        "expires_in": pair.access_expires_in,
        "refresh_token": pair.refresh,
        "scope": pair.session.scope,
    }


class S256CodeChallenge(CodeChallenge):
    """PKCE for every client, S256 only: a missing challenge, a missing method (which would mean plain) and plain
    are refused at the authorization endpoint, so every code can be exchanged only with its verifier."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send 'code_challenge' with 'code_challenge_method' S256.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only the S256 'code_challenge_method' is supported.")
        super().validate_code_challenge(grant, redirect_uri)


class IssuerCodeGrant(AuthorizationCodeGrant):
    """The authorization code grant on AuthorizationCode rows (digest only, 60 s, one use) and client sessions."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    @staticmethod
    def validate_authorization_redirect_uri(request: IssuerRequest, client: RelyingApp) -> str:
        # Required and matched exactly. The words never quote the URI: Authlib's would carry attacker text into
        # an error description, which refuses some characters by raising.
        redirect_uri = request.payload.redirect_uri
        if not redirect_uri:
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        if not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("The 'redirect_uri' is not registered for this client.")
        return redirect_uri

    def save_authorization_code(self, code: str, request: IssuerRequest) -> None:
        browser_session = request.browser_session
        data = request.payload.data
        AuthorizationCode.objects.create(
            code_digest=code_digest(code),
            client=request.client,
            user=request.user,
            browser_session=browser_session,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=data.get("nonce", ""),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            auth_time=browser_session.auth_time or browser_session.created_at,
            expires_at=clock.now() + CODE_LIFETIME,
        )
        audit_record(
            kind=AuditEvent.Kind.CODE_ISSUED,
            user=request.user,
            sid=browser_session.sid,
            ip=request.ip,
            detail=f"client={request.client.client_id} scope={request.scope}",
        )

    def query_authorization_code(self, code: str, client: RelyingApp) -> AuthorizationCode | None:
        row = AuthorizationCode.objects.select_related("client", "user").filter(code_digest=code_digest(code)).first()
        if row is None or row.client_id != client.pk:
            return None
        if row.used_at is not None:
            code_replay_revoke(code=row, ip=self.request.ip)
            return None
        if row.expires_at <= clock.now():
            return None
        return row

    def authenticate_user(self, authorization_code: AuthorizationCode) -> AbstractBaseUser:
        return authorization_code.user

    def generate_token(self, **kwargs: Any) -> dict[str, Any]:
        request = self.request
        return _token_answer(
            request, lambda: client_session_start(code=request.authorization_code, ip=request.ip), what="code"
        )

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Kept, marked used (client_session_start): a second presentation must be recognised as a replay."""


@dataclass
class ClientSessionCredential(TokenMixin):
    """A token the issuer made, as Authlib's refresh, revocation and introspection endpoints see it."""

    kind: str  # "access_token" or "refresh_token"
    claims: dict[str, Any]
    session: SSOSession

    def check_client(self, client: RelyingApp | ServiceClient) -> bool:
        return isinstance(client, RelyingApp) and self.session.client_id == client.pk

    def get_scope(self) -> str:
        return self.session.scope

    def is_expired(self) -> bool:
        return False  # an expired token does not read (presented_token_read)

    def is_revoked(self) -> bool:
        return self.session.revoked_at is not None or not self.session.user.is_active


def presented_token_read(raw: str) -> ClientSessionCredential | None:
    """The session token `raw` is, if it is one the issuer made and it has not expired: a refresh token, else an
    access token (any audience). ID tokens, service tokens and anything else are None."""
    try:
        # Read the one way a refresh token is read (issuer.signing.tokens.refresh_token_read), as a refresh does.
        kind, claims = "refresh_token", refresh_token_read(raw)
    except (MalformedToken, jwt.InvalidTokenError):
        try:
            kind, claims = "access_token", IssuerCookieToken(raw).payload
        except TokenError:
            return None
    session = SSOSession.objects.select_related("user", "client").filter(sid=claims.get("sid")).first()
    if session is None or str(session.user_id) != claims.get("sub"):
        return None
    return ClientSessionCredential(kind, claims, session)


class IssuerRefreshGrant(RefreshTokenGrant):
    """The refresh token grant on a client session: session_refresh's rotation and reuse detection, exactly as
    for every other session, for the session's own client only."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> ClientSessionCredential | None:
        credential = presented_token_read(refresh_token)
        return credential if credential is not None and credential.kind == "refresh_token" else None

    def authenticate_user(self, refresh_token: ClientSessionCredential) -> AbstractBaseUser:
        return refresh_token.session.user

    def generate_token(self, **kwargs: Any) -> dict[str, Any]:
        request = self.request
        return _token_answer(
            request,
            lambda: session_refresh(raw_refresh=request.form["refresh_token"], ip=request.ip),
            what="refresh token",
        )

    def revoke_old_credential(self, refresh_token: ClientSessionCredential) -> None:
        """Nothing more: session_refresh rotated it (only the new one's jti is the session's)."""


class ServiceCredentialsGrant(ClientCredentialsGrant):
    """The client credentials grant: a ServiceClient gets today's service token (service_token_issue: one
    `audience`, scopes it was granted), the same token /api/service-token/ answers."""

    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_AUTH_METHODS

    def authenticate_token_endpoint_client(self) -> ServiceClient:
        return self.server.authenticate_service_client(self.request, self.TOKEN_ENDPOINT_AUTH_METHODS, "token")

    def validate_requested_scope(self) -> None:
        """A service client's scopes are its own (stock:reserve), checked by service_token_issue."""

    def create_token_response(self) -> tuple[int, dict, list]:
        audience = self.request.form.get("audience", "")
        if not audience:
            raise InvalidRequestError("Missing 'audience': the relying app the token is for.")
        try:
            grant = service_clients.service_token_issue(
                client=self.request.client,
                audience=audience,
                scope=self.request.form.get("scope", ""),
                ip=self.request.ip,
            )
        except service_clients.AudienceNotAllowed as e:
            raise InvalidRequestError(messages.CLIENT_AUDIENCE_NOT_ALLOWED) from e
        except service_clients.ScopeNotAllowed as e:
            raise InvalidScopeError() from e
        return 200, grant.response_body(), self.TOKEN_RESPONSE_HEADER


class IDTokenSigning:
    """Authlib's ID token step (OpenIDToken.process_token), signed by the issuer (id_token_sign) instead of
    Authlib's own JOSE keys."""

    def encode_id_token(self, token: dict[str, Any], request: IssuerRequest) -> str:
        nonce = request.authorization_code.nonce if request.authorization_code else ""
        return id_token_sign(
            session=request.sso_session,
            client_id=request.client.client_id,
            access_token=token["access_token"],
            nonce=nonce,
        )


class IssuerOpenIDCode(IDTokenSigning, OpenIDCode):
    """OpenID Connect on the code grant: nonce, prompt, and an ID token in the token answer."""

    def validate_openid_authorization_request(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        # A nonce is kept with the code and returned unchanged in the ID token: one longer than the column is
        # refused, never cut (the client would then reject its own sign-in).
        nonce = grant.request.payload.data.get("nonce") or ""
        if len(nonce) > NONCE_MAX_LENGTH:
            raise InvalidRequestError("The 'nonce' is too long.")
        # Kept with the code and echoed in the ID token: a control character (a NUL, which PostgreSQL's text
        # cannot even hold) is no client's nonce.
        if not nonce.isprintable():
            raise InvalidRequestError("The 'nonce' has characters a nonce cannot have.")
        super().validate_openid_authorization_request(grant, redirect_uri)

    def exists_nonce(self, nonce: str, request: IssuerRequest) -> bool:
        return AuthorizationCode.objects.filter(client__client_id=request.payload.client_id, nonce=nonce).exists()


class IssuerOpenIDRefresh(IDTokenSigning, OpenIDToken):
    """A new ID token with every refresh of a session granted `openid` (no nonce: OpenID Connect Core 12.2)."""


class DjangoIssuerParameter(IssuerParameter):
    """RFC 9207's `iss` on every authorization response, on Django's Location header."""

    def get_issuer(self) -> str:
        return settings.SSO_ISSUER_URL

    def add_issuer_parameter(self, authorization_server: AuthorizationServer, response: HttpResponse) -> None:
        if response.has_header("Location"):
            response["Location"] = add_params_to_uri(response["Location"], {"iss": self.get_issuer()})


class ClientSessionRevocation(RevocationEndpoint):
    """RFC 7009: revoking an access or refresh token of a client session revokes that session, for its client."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> ClientSessionCredential | None:
        return presented_token_read(token_string)

    def revoke_token(self, token: ClientSessionCredential, request: IssuerRequest) -> None:
        session_revoke(session=token.session, reason=SSOSession.RevokedReason.TOKEN_REVOKED, ip=request.ip)
        audit_record(
            kind=AuditEvent.Kind.TOKEN_REVOKED,
            user=token.session.user,
            sid=token.session.sid,
            ip=request.ip,
            detail=f"client={request.client.client_id} token={token.kind}",
        )


class SessionTokenIntrospection(IntrospectionEndpoint):
    """RFC 7662 for resource servers that prefer asking: a confidential relying app or a service client learns
    about a token issued to it (its client) or made for it (its audience in `aud`); any other is inactive."""

    CLIENT_AUTH_METHODS = SECRET_AUTH_METHODS

    def authenticate_endpoint_client(self, request: IssuerRequest) -> RelyingApp | ServiceClient:
        client = self.server.authenticate_any_client(request, self.CLIENT_AUTH_METHODS, self.ENDPOINT_NAME)
        request.client = client
        return client

    def query_token(self, token_string: str, token_type_hint: str | None) -> ClientSessionCredential | None:
        return presented_token_read(token_string)

    def check_permission(
        self, token: ClientSessionCredential, client: RelyingApp | ServiceClient, request: IssuerRequest
    ) -> bool:
        if token.check_client(client):
            return True
        own_audience = client.audience if isinstance(client, RelyingApp) else client.client_id
        return token.kind == "access_token" and own_audience in token.claims.get("aud", [])

    def introspect_token(self, token: ClientSessionCredential) -> dict[str, Any]:
        session, claims = token.session, token.claims
        body = {
            "active": True,
            "sub": claims["sub"],
            "scope": session.scope,
            "exp": claims["exp"],
            "iat": claims["iat"],
            "iss": settings.SSO_ISSUER_URL,
            "sid": session.sid,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "username": session.user.get_username(),
        }
        if session.client is not None:
            body["client_id"] = session.client.client_id
        if token.kind == "access_token":
            body["aud"] = claims["aud"]
        return body


server = IssuerAuthorizationServer()
server.register_grant(IssuerCodeGrant, [S256CodeChallenge(required=True), IssuerOpenIDCode(require_nonce=False)])
server.register_grant(IssuerRefreshGrant, [IssuerOpenIDRefresh()])
server.register_grant(ServiceCredentialsGrant)
server.register_extension(DjangoIssuerParameter())
server.register_endpoint(ClientSessionRevocation)
server.register_endpoint(SessionTokenIntrospection)
