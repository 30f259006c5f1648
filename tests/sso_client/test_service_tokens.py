"""The service-token policy, and that it and the access-token policy never accept each other's tokens."""

import pytest
from rest_framework.test import APIRequestFactory

from sso_client.authentication import ServiceTokenAuthentication
from sso_client.permissions import HasScope, IsService, IsSSOAuthenticated
from sso_client.service import ServiceCaller, service_token_verify
from sso_client.verify import TokenRejected, token_verify
from tests.keys import mint_token

# The policy alone, on the test JWKS: nothing here reads storage a backend could change.
pytestmark = pytest.mark.storage_independent

SERVICE = {"sub": "service:orders", "aud": "orders", "token_type": "service", "scope": "stock:reserve", "sid": None}


def service_token(**claims) -> str:
    return mint_token(**{**SERVICE, "username": None, "roles": None, **claims})


def rejection(verify, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        verify(token)
    return caught.value.reason


def test_a_service_token_verifies_as_one():
    verified = service_token_verify(service_token(scope="stock:reserve stock:read"))
    assert verified.claims["sub"] == "service:orders"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"token_type": "access"}, "wrong token type"),
        ({"sid": "session-1"}, "wrong token type"),
        ({"aud": "products"}, "wrong audience"),
        ({"aud": ["orders", "products"]}, "wrong audience"),
        ({"sub": "2"}, "malformed claims"),
        ({"scope": None}, "missing claim scope"),
        ({"exp": 1000}, "expired"),
        ({"iss": "http://localhost:8000/"}, "wrong issuer"),
    ],
)
def test_service_token_refusals_say_why(claims, reason):
    assert rejection(service_token_verify, service_token(**claims)) == reason


def test_a_scope_that_is_not_a_string_is_malformed():
    # Refused by the shared structural check (sso_client.jws) or by the service policy itself.
    assert rejection(service_token_verify, service_token(scope=["stock:reserve"])) in {"malformed", "malformed claims"}


def test_a_persons_access_token_is_not_a_service_token():
    assert rejection(service_token_verify, mint_token()) == "missing claim scope"
    assert rejection(service_token_verify, mint_token(scope="stock:reserve")) == "wrong token type"


def test_a_service_token_is_not_an_access_token():
    assert rejection(token_verify, service_token()) == "missing claim sid"
    assert rejection(token_verify, service_token(sid="session-1")) == "wrong token type"


def test_a_password_reset_token_is_not_an_access_token_nor_a_service_token():
    reset = mint_token(token_type="password_reset", sid=None, aud=["orders"], fp="x")
    assert rejection(token_verify, reset) == "missing claim sid"
    assert rejection(token_verify, mint_token(token_type="password_reset", aud=["orders"])) == "wrong token type"
    assert rejection(service_token_verify, reset) == "missing claim scope"


def test_the_authentication_class_and_permissions():
    factory = APIRequestFactory()
    request = factory.post("/", HTTP_AUTHORIZATION=f"Bearer {service_token()}")
    caller, token = ServiceTokenAuthentication().authenticate(request)
    assert isinstance(caller, ServiceCaller) and caller.client_id == "orders"
    request.user = caller
    assert HasScope("stock:reserve")().has_permission(request, None)
    assert not HasScope("stock:release")().has_permission(request, None)
    assert IsService().has_permission(request, None)
    assert not IsSSOAuthenticated().has_permission(request, None)
    assert ServiceTokenAuthentication().authenticate(factory.post("/")) is None
    # A service has no browser: the access cookie is not a way in.
    cookie_request = factory.post("/")
    cookie_request.COOKIES["sso_access"] = service_token()
    assert ServiceTokenAuthentication().authenticate(cookie_request) is None
