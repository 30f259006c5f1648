"""The issuer's published metadata: the JWKS and the discovery document (OpenID Connect Discovery 1.0 and
RFC 8414), built from SSO_ISSUER_URL only, never from the Host header, so a forged Host cannot poison them."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ..services.oidc_provider import CLIENT_AUTH_METHODS, SCOPE_CLAIMS, SCOPES_SUPPORTED, SECRET_AUTH_METHODS
from ..signing import keys

# Other modules add the fields of the endpoints they serve (UserInfo, RP-initiated and back-channel logout) by
# appending a function of the issuer URL that returns them; nothing is advertised that no module serves.
METADATA_EXTENSIONS: list[Callable[[str], dict[str, Any]]] = []

# What every ID token and access token carries, beside the scope claims (SCOPE_CLAIMS).
TOKEN_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "at_hash", "amr", "acr", "azp"]


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(keys.published_jwks())
    # Short enough that a rotation is seen soon; relying apps also refetch on an unknown kid.
    response["Cache-Control"] = f"public, max-age={settings.SSO_ISSUER['JWKS_MAX_AGE']}"
    return response


def provider_metadata() -> dict[str, Any]:
    """Every REQUIRED and RECOMMENDED field of OpenID Connect Discovery 1.0 and RFC 8414 that the issuer
    implements, with what it supports exactly (nothing it does not), then the project's own extensions."""
    base = settings.SSO_ISSUER_URL
    metadata: dict[str, Any] = {
        "issuer": base,
        "authorization_endpoint": f"{base}/session/authorize/",
        "token_endpoint": f"{base}/oauth/token/",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "revocation_endpoint": f"{base}/oauth/revoke/",
        "introspection_endpoint": f"{base}/oauth/introspect/",
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [keys.ALGORITHM],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": SECRET_AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [*TOKEN_CLAIMS, *(claim for claims in SCOPE_CLAIMS.values() for claim in claims)],
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": ["urn:sso:1fa", "urn:sso:2fa"],
        "authorization_response_iss_parameter_supported": True,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        # The project's own: the first-party JSON API (not OAuth endpoints) and what sso_client polls.
        "token_refresh_endpoint": f"{base}/api/token/refresh/",
        "service_token_endpoint": f"{base}/api/service-token/",
        "revocation_list_uri": f"{base}/api/revocations/",
        # A client reads its own registration here with its id and secret (what `sso_check` compares).
        "client_registration_uri": f"{base}/oauth/client/",
    }
    for extension in METADATA_EXTENSIONS:
        metadata.update(extension(base))
    return metadata


@require_GET
def openid_configuration(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(provider_metadata())
    response["Cache-Control"] = "public, max-age=3600"
    return response
