"""Calling another service as this one: a `requests` auth class that adds a cached service token.

The token comes from the issuer's /api/service-token/ (client credentials), fetched at the issuer's internal
URL with the package's fetch hygiene, and kept in the Django cache (shared by the site's processes) until
shortly before it expires. A person's own token is never relayed: the called service would have to accept
people where only this service should be allowed, and the call would depend on how long the person's token
had left. When the called service answers 401 (its copy of the issuer's keys moved on, the clocks disagree)
the token is renewed once and the call repeated, never more."""

import hashlib
import logging
import threading
from typing import Any

import requests
from django.core.cache import cache

from . import clock
from .conf import issuer_fetch_base, sso_settings
from .http import FetchError, post_json
from .request_ids import outgoing_headers

logger = logging.getLogger(__name__)

# Renewed this long before it expires, so a token never runs out between the cache and the called service.
TOKEN_RENEW_MARGIN_SECONDS = 30
# One fetch per process when a cached token runs out, not one per concurrent request.
_token_lock = threading.Lock()


class ServiceTokenUnavailable(Exception):
    """No service token: the issuer is unreachable, refused the credentials, or answered nonsense."""


class ServiceTokenAuth(requests.auth.AuthBase):
    """`requests.post(url, auth=ServiceTokenAuth(audience=..., scope=...))`: the call goes out as this service,
    with a Bearer service token for `audience` carrying `scope`. The credentials are this site's service
    client's, SSO_CLIENT["SERVICE_CLIENT_ID"] and ["SERVICE_CLIENT_SECRET"], unless given."""

    def __init__(
        self, *, audience: str, scope: str, client_id: str | None = None, client_secret: str | None = None
    ) -> None:
        conf = sso_settings()
        self.client_id = client_id or conf["SERVICE_CLIENT_ID"]
        self.client_secret = client_secret or conf["SERVICE_CLIENT_SECRET"]
        if not self.client_id or not self.client_secret:
            raise ServiceTokenUnavailable("no service client: set SSO_CLIENT['SERVICE_CLIENT_ID'] and its secret")
        self.audience = audience
        self.scope = scope
        grant = f"{self.client_id}\n{audience}\n{scope}".encode()
        # Hashed: a cache key must not carry spaces (scopes) or grow with the grant.
        self.cache_key = f"sso_client:service-token:{hashlib.sha256(grant).hexdigest()[:32]}"

    def token(self, *, renew: bool = False) -> str:
        """The service token, from the cache while it has more than the margin left; fetched otherwise."""
        if not renew and (token := self._cached()):
            return token
        with _token_lock:
            if not renew and (token := self._cached()):
                return token
            token, expires_in = self._fetch()
            if expires_in > TOKEN_RENEW_MARGIN_SECONDS:
                cache.set(
                    self.cache_key, (token, clock.now() + expires_in), timeout=expires_in - TOKEN_RENEW_MARGIN_SECONDS
                )
            return token

    def _cached(self) -> str | None:
        # The cache's own timeout evicts the entry; the expiry stored beside the token decides, by sso_client's
        # clock, so the renewal moment does not depend on the cache backend's idea of time.
        cached = cache.get(self.cache_key)
        if cached and cached[1] - TOKEN_RENEW_MARGIN_SECONDS > clock.now():
            return cached[0]
        return None

    def _fetch(self) -> tuple[str, int]:
        try:
            body = post_json(
                f"{issuer_fetch_base()}/api/service-token/",
                body={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "audience": self.audience,
                    "scope": self.scope,
                },
            )
            token, expires_in = body["access_token"], int(body["expires_in"])
        except FetchError as e:
            # "HTTP 401": the client id or secret is wrong, or the client was deactivated at the issuer.
            logger.warning("service_calls event=service_token_failed audience=%s reason=%s", self.audience, e)
            raise ServiceTokenUnavailable(str(e)) from e
        except (KeyError, TypeError, ValueError) as e:
            raise ServiceTokenUnavailable("malformed token response") from e
        if not isinstance(token, str):
            raise ServiceTokenUnavailable("malformed token response")
        logger.info("service_calls event=service_token_fetched audience=%s expires_in=%s", self.audience, expires_in)
        return token, expires_in

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        request.headers.update(outgoing_headers())  # the request id goes on to the called service
        request.register_hook("response", self._renew_on_401)
        return request

    def _renew_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401:
            return response
        logger.info("service_calls event=service_token_renewed_on_401 audience=%s", self.audience)
        response.close()
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {self.token(renew=True)}"
        # Sent through the connection, not the session, so response hooks (this one) do not run on the
        # retry: one renewal per call, never a loop. A second 401 is the caller's to handle.
        repeated = response.connection.send(retry, **kwargs)
        repeated.history.append(response)
        repeated.request = retry
        return repeated
