"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): which ID token hints the issuer honours, where
it may send the browser afterwards, and which sign-on it ends. Authlib's EndSessionEndpoint parses the request,
verifies the hint's signature against the published keys and matches post_logout_redirect_uri exactly against
the client's registered ones; the rules here are the issuer's own around it."""

import logging
from typing import Any

import jwt
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from django.conf import settings

from sso_client.jws import MalformedToken, compact_jws_check, header_read

from ..models import RelyingApp, SSOSession
from ..signing import keys
from ..signing.oidc import ID_TOKEN_REQUIRED_CLAIMS, ID_TOKEN_TYP
from .oidc_provider import IssuerRequest, server
from .sessions import session_revoke

logger = logging.getLogger(__name__)


class IssuerEndSession(EndSessionEndpoint):
    """The end_session endpoint on the issuer's keys and sessions.

    A hint is honoured only when it is an ID token this issuer signed: RS256 with a published key (Authlib),
    header `typ` JWT, `iss` exactly SSO_ISSUER_URL, the ID token claims present, no `token_type` (so an
    access token, typ at+jwt, never passes, nor a refresh token: HS256), and `aud` one active client. An
    expired hint is accepted (section 2: the person is logging out, not signing in). Without a valid hint
    nothing is ended and no redirect is made here: the view asks the person to confirm (section 6)."""

    def get_server_jwks(self) -> dict[str, Any]:
        return keys.published_jwks()

    def get_algorithms(self) -> list[str]:
        return [keys.ALGORITHM]

    def validate_request(self, request: IssuerRequest) -> EndSessionRequest:
        hint = request.payload.data.get("id_token_hint")
        if hint:
            _hint_header_check(hint)
        end_session_request = super().validate_request(request)
        if end_session_request.id_token_claims is not None:
            _hint_claims_check(end_session_request)
        return end_session_request

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        claims = end_session_request.id_token_claims
        if claims is None:
            # Confirmed by the person on the issuer's own sign-out form (/session/logout/), not here.
            return
        hint_sign_on_end(claims=claims, client=end_session_request.client, ip=end_session_request.request.ip)


def _hint_header_check(hint: str) -> None:
    """The header before any key is tried: a compact JWS of sound shape (sso_client.jws, the rules every verifier
    at the issuer uses) whose `typ` is an ID token's. The signature check that follows covers this header."""
    try:
        compact_jws_check(hint)
        header = header_read(hint.split(".", 1)[0])
    except (MalformedToken, jwt.InvalidTokenError) as e:
        raise InvalidRequestError("The 'id_token_hint' is not a token this issuer signed.") from e
    if header.get("typ") != ID_TOKEN_TYP or header.get("alg") != keys.ALGORITHM:
        raise InvalidRequestError("The 'id_token_hint' is not an ID token.")


def _hint_claims_check(end_session_request: EndSessionRequest) -> None:
    claims = end_session_request.id_token_claims
    if claims.get("iss") != settings.SSO_ISSUER_URL:
        raise InvalidRequestError("The 'id_token_hint' was issued by someone else.")
    if any(name not in claims for name in ID_TOKEN_REQUIRED_CLAIMS) or "token_type" in claims:
        raise InvalidRequestError("The 'id_token_hint' is not an ID token.")
    if not isinstance(end_session_request.client, RelyingApp):
        # `aud` a list, or naming no active client: no client whose sign-on or redirect URIs this could be about.
        raise InvalidRequestError("The 'id_token_hint' names no client of this issuer.")


def hint_sign_on_end(*, claims: dict[str, Any], client: RelyingApp, ip: str | None = None) -> SSOSession | None:
    """End the browser sign-on the hint's client session came from, and so every client session of it (each
    client with a back-channel URI is told), or the client session alone when it has no sign-on any more.
    Returns the session ended, None when the hint's session is unknown or had already ended."""
    session = (
        SSOSession.objects.select_related("user", "browser_session__user")
        .filter(sid=claims["sid"], client=client)
        .first()
    )
    if session is None or str(session.user_id) != claims["sub"]:
        logger.info("auth event=end_session_unknown client=%s", client.client_id)
        return None
    ending = session.browser_session or session
    return ending if session_revoke(session=ending, reason=SSOSession.RevokedReason.LOGOUT, ip=ip) else None


server.register_endpoint(IssuerEndSession)
