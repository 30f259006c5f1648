"""Step-up at a relying app (sso_client.step_up): "requires MFA within N minutes" on products' delete, RFC 9470's
challenge for API clients, and a browser page sent to the issuer's step-up page and back."""

import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from apps.products.models import Product
from sso_client import clock
from sso_client.conf import sso_settings
from sso_client.step_up import RequiresMFA, mfa_within
from tests.keys import mint_token

pytestmark = pytest.mark.django_db

TWO_FACTORS = ["pwd", "otp", "mfa"]


def manager(**claims) -> APIClient:
    client = APIClient()
    token = mint_token(username="carol", roles=["catalog_manager"], **claims)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def mug():
    return Product.objects.create(sku="mug-blue", name="Blue mug", price=Decimal("9.50"), stock=10)


def test_a_password_only_token_gets_rfc_9470_s_challenge(mug):
    response = manager(amr=["pwd"], auth_time=int(time.time())).delete("/api/products/mug-blue/")
    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="insufficient_user_authentication", error_description="')
    assert 'acr_values="urn:sso:2fa"' in challenge and challenge.endswith("max_age=600")
    assert response.json()["code"] == "insufficient_user_authentication"
    assert Product.objects.filter(sku="mug-blue").exists()


def test_a_second_factor_too_long_ago_is_refused_and_a_recent_one_passes(mug):
    stale = manager(amr=TWO_FACTORS, auth_time=int(time.time()) - 601)
    assert stale.delete("/api/products/mug-blue/").status_code == 401
    fresh = manager(amr=TWO_FACTORS, auth_time=int(time.time()) - 30)
    assert fresh.delete("/api/products/mug-blue/").status_code == 204


def test_a_token_without_amr_or_auth_time_is_refused(mug):
    assert manager().delete("/api/products/mug-blue/").status_code == 401
    assert manager(amr=TWO_FACTORS).delete("/api/products/mug-blue/").status_code == 401


def test_who_may_not_delete_at_all_still_gets_403(mug):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_token(username='bob', amr=['pwd'])}")
    assert client.delete("/api/products/mug-blue/").status_code == 403


@pytest.mark.parametrize(
    ("claims", "within"),
    [
        ({"amr": TWO_FACTORS, "auth_time": 1000}, True),
        ({"amr": TWO_FACTORS, "auth_time": 399}, False),
        ({"amr": TWO_FACTORS, "auth_time": 1300}, False),  # in the future
        ({"amr": "mfa", "auth_time": 1000}, False),
        ({"amr": ["pwd"], "auth_time": 1000}, False),
        ({"amr": TWO_FACTORS, "auth_time": "1000"}, False),
    ],
)
def test_mfa_within_reads_amr_and_auth_time(monkeypatch, claims, within):
    monkeypatch.setattr(clock, "now", lambda: 1000.0)
    assert mfa_within(claims, max_age=600) is within


class RecentMFAPage(APIView):
    """A page (HTML for a browser) behind RequiresMFA(5)."""

    permission_classes = [IsAuthenticated, RequiresMFA(5)]
    renderer_classes = [TemplateHTMLRenderer, JSONRenderer]
    template_name = "sso_client/kept_form.html"

    def get(self, request):
        return Response({"ok": True})


def test_a_browser_page_is_sent_to_the_issuer_s_step_up_page_and_back():
    factory = APIRequestFactory()
    request = factory.get("/danger/", HTTP_ACCEPT="text/html")
    request.COOKIES[sso_settings()["ACCESS_COOKIE_NAME"]] = mint_token(amr=["pwd"], auth_time=int(time.time()))
    response = RecentMFAPage.as_view()(request)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}" == sso_settings()["ISSUER"].rstrip("/")
    assert location.path == "/login/step-up/"
    query = parse_qs(location.query)
    assert query["next"] == ["http://testserver/danger/"] and query["max_age"] == ["300"]
    assert "insufficient_user_authentication" in response["WWW-Authenticate"]
