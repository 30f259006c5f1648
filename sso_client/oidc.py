"""OpenID Connect at a relying site (any-domain mode): the authorization code flow with PKCE against the
issuer's discovery document, and the checks on everything that comes back (the authorization response, the
token response, ID tokens and back-channel logout tokens). The views (sso_client.oidc_views) keep the
results in cookies; every access token is then verified on each request exactly as in cookie mode.

Standards: RFC 6749 (code flow, client_secret_basic), RFC 7636 (PKCE, S256), RFC 9207 (`iss` in the
authorization response), OpenID Connect Core 1.0 (ID token validation, 3.1.3.7), RP-Initiated Logout 1.0
and Back-Channel Logout 1.0 (logout token validation, 2.6)."""

import hashlib
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.core.cache import cache
from django.utils.crypto import constant_time_compare
from jwt.utils import base64url_encode

from . import clock, http
from .claims import (
    BACKCHANNEL_LOGOUT_EVENT,
    ID_TOKEN_REQUIRED_CLAIMS,
    ID_TOKEN_TYP,
    LOGOUT_TOKEN_REQUIRED_CLAIMS,
    LOGOUT_TOKEN_TYP,
)
from .conf import sso_settings
from .fetch_claims import CLAIM_POLL_SECONDS, whole_seconds
from .http import FetchError, issuer_url
from .keys import discovery_document
from .verify import TokenRejected, VerifiedToken, signed_claims_verify, token_verify

logger = logging.getLogger(__name__)

# ID and logout tokens: the issuer signs every token with RS256, and nothing else is accepted for them.
OIDC_ALGORITHMS = ("RS256",)
MAX_CODE_LENGTH = 512
# A rotated refresh token's answer is kept this long, so a second request presenting the same (now spent)
# refresh token, from another tab or a page loading while its script renews, gets the same tokens instead of
# tripping the issuer's reuse detection, which would end the session.
REFRESH_ANSWER_SECONDS = 30
REFRESH_PREFIX = "sso_client:refreshed:"


class SignInRefused(Exception):
    """The issuer, or what it sent, was refused (a state, token or code that does not check out); `reason`
    is for the log, never for the browser."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IssuerUnavailable(SignInRefused):
    """The issuer could not be reached, or answered something that is not an answer."""


@dataclass(frozen=True)
class TokenSet:
    """A token endpoint's answer, verified: the access token (as this site verifies it on every request), the
    refresh token and the ID token when the answer had them."""

    access: VerifiedToken
    refresh: str | None
    id_token: str | None


@dataclass(frozen=True)
class SignInStart:
    """Where to send the browser, and what to keep (in a signed cookie) to check the answer with."""

    url: str
    state: str
    nonce: str
    verifier: str


def _client() -> tuple[str, str]:
    conf = sso_settings()
    return conf["CLIENT_ID"], conf["CLIENT_SECRET"]


def _discovered(name: str) -> Any:
    try:
        return discovery_document().get(name)
    except FetchError as e:
        raise IssuerUnavailable(f"discovery: {e}") from e


def _browser_endpoint(name: str) -> str:
    """An endpoint the browser is sent to, from discovery: refused unless it is under the issuer's public URL."""
    url = _discovered(name)
    try:
        issuer_url(url)
    except FetchError as e:
        raise IssuerUnavailable(f"discovery: {name} is not the issuer's") from e
    return url


def _with_query(url: str, params: Mapping[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def pkce_challenge(verifier: str) -> str:
    """RFC 7636's S256 code challenge: base64url(SHA-256(verifier)), unpadded."""
    return base64url_encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode("ascii")


def sign_in_start(*, redirect_uri: str, extra: Mapping[str, str] | None = None) -> SignInStart:
    """A new authorization request: fresh state, nonce and PKCE verifier (43 to 128 unreserved characters), and
    `extra` (a step-up's max_age and acr_values, checked by the caller)."""
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    client_id, _ = _client()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": sso_settings()["SCOPES"],
        "state": state,
        "nonce": nonce,
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        **(extra or {}),
    }
    url = _with_query(_browser_endpoint("authorization_endpoint"), params)
    return SignInStart(url=url, state=state, nonce=nonce, verifier=verifier)


def authorization_response_check(query: Mapping[str, str], *, state: str) -> str:
    """The code from the issuer's answer at the callback, once `state` matches the one sent and `iss` names
    the issuer (RFC 9207: required when the issuer says it sends it). Raises SignInRefused."""
    if not constant_time_compare(query.get("state") or "", state):
        raise SignInRefused("state mismatch")
    iss = query.get("iss")
    if iss is None and _discovered("authorization_response_iss_parameter_supported"):
        raise SignInRefused("iss missing from the authorization response")
    if iss is not None and iss != sso_settings()["ISSUER"]:
        raise SignInRefused("wrong iss in the authorization response")
    if "error" in query:
        raise SignInRefused(f"issuer answered error={str(query['error'])[:64]}")
    code = query.get("code") or ""
    if not 0 < len(code) <= MAX_CODE_LENGTH:
        raise SignInRefused("no code")
    return code


def _token_request(form: dict[str, str]) -> dict[str, Any]:
    """POST to the token endpoint as this client (client_secret_basic: RFC 6749 2.3.1 form-encodes both parts)."""
    client_id, secret = _client()
    try:
        endpoint = issuer_url(_discovered("token_endpoint"))
        answer = http.post_form(endpoint, data=form, auth=(quote(client_id, safe=""), quote(secret, safe="")))
    except FetchError as e:
        if e.status is not None and 400 <= e.status < 500:
            error = (e.body or {}).get("error")
            raise SignInRefused(f"token endpoint refused: {str(error)[:64]}") from e
        raise IssuerUnavailable(f"token endpoint: {e}") from e
    if str(answer.get("token_type", "")).lower() != "bearer" or not isinstance(answer.get("access_token"), str):
        raise IssuerUnavailable("token endpoint answer is not a Bearer token")
    return answer


def _token_set(answer: dict[str, Any], *, nonce: str | None) -> TokenSet:
    """Verify a token answer: the access token as this site verifies every request, the ID token (required with
    a nonce, at sign-in; optional on a refresh) for this client, naming the same person."""
    try:
        access = token_verify(answer["access_token"])
    except TokenRejected as e:
        raise SignInRefused(f"access token refused: {e.reason}") from e
    id_token = answer.get("id_token")
    if id_token is not None or nonce is not None:
        if not isinstance(id_token, str):
            raise SignInRefused("no ID token")
        claims = id_token_verify(id_token, nonce=nonce, access_token=access.raw)
        if claims["sub"] != access.claims["sub"]:
            raise SignInRefused("ID token and access token name different people")
    refresh = answer.get("refresh_token")
    return TokenSet(access=access, refresh=refresh if isinstance(refresh, str) else None, id_token=id_token)


def code_exchange(*, code: str, verifier: str, redirect_uri: str, nonce: str) -> TokenSet:
    """Exchange an authorization code (with its PKCE verifier) for verified tokens. Raises SignInRefused."""
    answer = _token_request(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    )
    return _token_set(answer, nonce=nonce)


def tokens_refresh(refresh_token: str) -> TokenSet:
    """New tokens from a refresh token, server to server. One request per refresh token per site calls the
    issuer; the others (concurrent, or within REFRESH_ANSWER_SECONDS) get its answer. Raises SignInRefused."""
    key = REFRESH_PREFIX + hashlib.sha256(refresh_token.encode()).hexdigest()
    answer = cache.get(key)
    if answer is None:
        timeout = sso_settings()["HTTP_TIMEOUT_SECONDS"]
        if cache.add(key + ":claim", True, timeout=whole_seconds(2 * timeout)):
            answer = _token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})
            cache.set(key, answer, timeout=REFRESH_ANSWER_SECONDS)
        else:
            answer = _answer_awaited(key, deadline=clock.monotonic() + timeout)
    return _token_set(answer, nonce=None)


def _answer_awaited(key: str, *, deadline: float) -> dict[str, Any]:
    # Another request of this site holds the claim: its answer arrives within the HTTP timeout, or never.
    while clock.monotonic() < deadline:
        time.sleep(CLAIM_POLL_SECONDS)
        answer = cache.get(key)
        if answer is not None:
            return answer
    raise IssuerUnavailable("a concurrent refresh did not answer")


def _at_hash(access_token: str) -> str:
    # OpenID Connect Core 3.1.3.6: the left half of the SHA-256 of the access token, base64url (RS256).
    return base64url_encode(hashlib.sha256(access_token.encode("ascii")).digest()[:16]).decode("ascii")


def id_token_verify(raw: str, *, nonce: str | None, access_token: str | None = None) -> dict[str, Any]:
    """An ID token's claims (OpenID Connect Core 3.1.3.7): RS256 with a published key, `typ` JWT, exact `iss`,
    this client in `aud` (and `azp` when there are several), current `exp` and `iat`, `nonce` the one sent,
    `at_hash` matching the access token when present; never an access token. Raises SignInRefused."""
    client_id, _ = _client()
    required = ID_TOKEN_REQUIRED_CLAIMS + (("nonce",) if nonce is not None else ())
    try:
        claims, _ = signed_claims_verify(
            raw, required=required, audience=client_id, algorithms=OIDC_ALGORITHMS, typ=ID_TOKEN_TYP
        )
    except TokenRejected as e:
        raise SignInRefused(f"ID token refused: {e.reason}") from e
    if "token_type" in claims:
        raise SignInRefused("ID token refused: an access token")
    aud = claims["aud"]
    if (isinstance(aud, list) and len(aud) > 1 or "azp" in claims) and claims.get("azp") != client_id:
        raise SignInRefused("ID token refused: azp is not this client")
    if nonce is not None and not (isinstance(claims["nonce"], str) and constant_time_compare(claims["nonce"], nonce)):
        raise SignInRefused("ID token refused: nonce mismatch")
    if access_token is not None and "at_hash" in claims and claims["at_hash"] != _at_hash(access_token):
        raise SignInRefused("ID token refused: at_hash does not match the access token")
    return claims


def logout_token_verify(raw: str) -> dict[str, Any]:
    """A back-channel logout token's claims (Back-Channel Logout 1.0, 2.6): RS256 with a published key, `typ`
    logout+jwt, exact `iss`, this client in `aud`, current `iat` and `exp`, a `jti`, the back-channel event in
    `events`, a `sid` (this site ends sessions by sid), and no `nonce`. Raises SignInRefused."""
    client_id, _ = _client()
    try:
        claims, _ = signed_claims_verify(
            raw,
            required=LOGOUT_TOKEN_REQUIRED_CLAIMS,
            audience=client_id,
            algorithms=OIDC_ALGORITHMS,
            typ=LOGOUT_TOKEN_TYP,
        )
    except TokenRejected as e:
        raise SignInRefused(f"logout token refused: {e.reason}") from e
    events = claims["events"]
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise SignInRefused("logout token refused: no back-channel logout event")
    if "nonce" in claims:
        raise SignInRefused("logout token refused: it carries a nonce")
    return claims


def end_session_url(*, id_token_hint: str | None, post_logout_redirect_uri: str) -> str:
    """The issuer's end_session_endpoint (RP-Initiated Logout 1.0) for this client, coming back to
    `post_logout_redirect_uri` (registered at the issuer). Raises IssuerUnavailable."""
    client_id, _ = _client()
    params = {"client_id": client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
    if id_token_hint:
        params["id_token_hint"] = id_token_hint
    params["state"] = secrets.token_urlsafe(16)
    return _with_query(_browser_endpoint("end_session_endpoint"), params)
