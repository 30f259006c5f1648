"""Service clients and the client-credentials endpoint: a service gets a short RS256 token for one app."""

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.hashers import identify_hasher, make_password
from django.core.management import call_command

from issuer.models import AuditEvent, RelyingApp, ServiceClient
from issuer.services.service_clients import InvalidClient, service_client_authenticate, service_client_secret_set

pytestmark = pytest.mark.django_db

SECRET = "a-long-random-service-secret"


@pytest.fixture
def orders_client(apps):
    client = ServiceClient.objects.create(name="Orders", client_id="orders", scopes="stock:reserve stock:read")
    client.audiences.set([apps["products"]])
    service_client_secret_set(client=client, raw_secret=SECRET)
    return client


def ask(api, **overrides):
    body = {"client_id": "orders", "client_secret": SECRET, "audience": "products", **overrides}
    return api.post("/api/service-token/", {k: v for k, v in body.items() if v is not None}, format="json")


def decoded(api, token: str) -> dict:
    kid = jwt.get_unverified_header(token)["kid"]
    jwks = api.get("/.well-known/jwks.json").json()
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid)
    return jwt.decode(token, key.key, algorithms=["RS256"], audience="products", issuer=settings.SSO_ISSUER_URL)


def test_a_service_gets_a_token_for_one_app(api, orders_client):
    response = ask(api)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert body["audience"] == "products" and body["scope"] == "stock:reserve stock:read"
    claims = decoded(api, body["access_token"])
    assert claims["sub"] == "service:orders"
    assert claims["aud"] == "products"
    assert claims["token_type"] == "service"
    assert claims["scope"] == "stock:reserve stock:read"
    assert claims["exp"] - claims["iat"] == 300
    assert "sid" not in claims and "username" not in claims and "roles" not in claims
    assert len(body["access_token"]) < 1024
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.SERVICE_TOKEN_ISSUED, username="service:orders").exists()


def test_the_secret_is_stored_hashed(orders_client):
    orders_client.refresh_from_db()
    assert SECRET not in orders_client.secret_hash
    assert orders_client.secret_hash.startswith("hmac_sha256$")
    assert orders_client.check_secret(SECRET) and not orders_client.check_secret(SECRET + "x")
    assert orders_client.secret_changed_at is not None


def test_a_client_secret_costs_no_password_hash(orders_client, monkeypatch):
    """Secrets are long and random: checking one is a keyed digest, not the password hasher, so a burst of
    service-token requests cannot queue behind password hashing (unknown clients included)."""

    def no_hashing(*args, **kwargs):
        raise AssertionError("a password hasher ran")

    monkeypatch.setattr("django.contrib.auth.hashers.get_hasher", no_hashing)
    monkeypatch.setattr("django.contrib.auth.hashers.identify_hasher", no_hashing)
    assert service_client_authenticate(client_id="orders", client_secret=SECRET)
    with pytest.raises(InvalidClient):
        service_client_authenticate(client_id="no-such-client", client_secret=SECRET)
    with pytest.raises(InvalidClient):
        service_client_authenticate(client_id="orders", client_secret=SECRET + "x")


def test_a_password_hashed_secret_from_before_is_accepted_once_and_stored_keyed(orders_client):
    ServiceClient.objects.filter(pk=orders_client.pk).update(secret_hash=make_password(SECRET))
    client = ServiceClient.objects.get(pk=orders_client.pk)
    assert identify_hasher(client.secret_hash)
    assert not client.check_secret(SECRET + "x")
    assert client.check_secret(SECRET)
    assert ServiceClient.objects.get(pk=orders_client.pk).secret_hash.startswith("hmac_sha256$")


def test_secrets_survive_a_secret_key_rotation(orders_client, settings):
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key-" + "x" * 50, [old_key]
    client = ServiceClient.objects.get(pk=orders_client.pk)
    assert client.check_secret(SECRET) and not client.check_secret(SECRET + "x")
    settings.SECRET_KEY_FALLBACKS = []
    assert ServiceClient.objects.get(pk=orders_client.pk).check_secret(SECRET), "stored anew under the new key"


def test_a_narrower_scope_can_be_asked_for(api, orders_client):
    body = ask(api, scope="stock:read").json()
    assert body["scope"] == "stock:read"
    assert decoded(api, body["access_token"])["scope"] == "stock:read"


def test_unknown_client_wrong_secret_and_inactive_client_fail_the_same_way(api, orders_client):
    ServiceClient.objects.create(name="Old", client_id="old", is_active=False).audiences.set(
        orders_client.audiences.all()
    )
    service_client_secret_set(client=ServiceClient.objects.get(client_id="old"), raw_secret=SECRET)
    responses = [ask(api, client_id="nobody"), ask(api, client_secret="wrong"), ask(api, client_id="old")]
    assert {r.status_code for r in responses} == {401}
    assert {r.json()["code"] for r in responses} == {"invalid_client"}
    assert len({r.content for r in responses}) == 1
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.SERVICE_TOKEN_REFUSED).count() == 3


def test_deactivating_the_client_stops_new_tokens(api, orders_client):
    assert ask(api).status_code == 200
    orders_client.is_active = False
    orders_client.save()
    assert ask(api).status_code == 401


@pytest.mark.parametrize("audience", ["orders", "sso", "nowhere"])
def test_an_app_the_client_may_not_call_is_403(api, orders_client, audience):
    response = ask(api, audience=audience)
    assert response.status_code == 403 and response.json()["code"] == "audience_not_allowed"


def test_an_inactive_app_is_403(api, orders_client):
    RelyingApp.objects.filter(audience="products").update(is_active=False)
    assert ask(api).status_code == 403


@pytest.mark.parametrize("scope", ["stock:write", "stock:reserve stock:write", "admin"])
def test_a_scope_the_client_was_not_granted_is_403(api, orders_client, scope):
    response = ask(api, scope=scope)
    assert response.status_code == 403 and response.json()["code"] == "scope_not_allowed"


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": None},
        {"client_secret": None},
        {"audience": None},
        {"grant_type": "password"},
        {"scope": "<script>"},
        {"client_id": "x" * 500},
        {"client_secret": "y" * 5000},
    ],
)
def test_malformed_requests_are_400(api, orders_client, overrides):
    assert ask(api, **overrides).status_code == 400


def test_a_service_token_is_not_accepted_by_the_issuers_own_api(api, orders_client):
    token = ask(api).json()["access_token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/sessions/").status_code == 401


def test_the_lifetime_is_a_setting(api, orders_client, settings):
    from datetime import timedelta

    settings.SSO_SERVICE_TOKEN_LIFETIME = timedelta(seconds=60)
    body = ask(api).json()
    claims = decoded(api, body["access_token"])
    assert body["expires_in"] == 60 and claims["exp"] - claims["iat"] == 60


def test_seed_demo_creates_the_orders_client_with_the_demo_secret(api):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    client = ServiceClient.objects.get(client_id="orders")
    assert client.check_secret(settings.DEMO_SERVICE_SECRET)
    assert client.scope_list == ["stock:reserve"]
    assert list(client.audiences.values_list("audience", flat=True)) == ["products"]
    assert ask(api, client_secret=settings.DEMO_SERVICE_SECRET, scope="stock:reserve").status_code == 200
    # Seeding again keeps the secret it has (as it keeps the demo passwords).
    service_client_secret_set(client=client, raw_secret="rotated-by-an-admin")
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    assert ServiceClient.objects.get(client_id="orders").check_secret("rotated-by-an-admin")


def test_the_admin_shows_a_new_secret_once_and_keeps_only_its_hash(client, users, apps):
    client.force_login(users["alice"])
    response = client.post(
        "/admin/issuer/serviceclient/add/",
        {
            "name": "Billing",
            "client_id": "billing",
            "audiences": [apps["orders"].pk],
            "scopes": "invoice:write",
            "is_active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    message = next(str(m) for m in response.context["messages"] if "Secret of billing" in str(m))
    raw_secret = message.split("Secret of billing: ")[1].split()[0]
    created = ServiceClient.objects.get(client_id="billing")
    assert raw_secret not in created.secret_hash and created.check_secret(raw_secret)
    listing = client.get("/admin/issuer/serviceclient/")
    assert raw_secret.encode() not in listing.content
    rotated = client.post(
        "/admin/issuer/serviceclient/", {"action": "new_secret", "_selected_action": [created.pk]}, follow=True
    )
    assert any("Secret of billing" in str(m) for m in rotated.context["messages"])
    assert not ServiceClient.objects.get(client_id="billing").check_secret(raw_secret)


def test_discovery_names_the_service_token_endpoint(api):
    discovery = api.get("/.well-known/openid-configuration").json()
    assert discovery["service_token_endpoint"] == f"{settings.SSO_ISSUER_URL}/api/service-token/"
    assert "client_credentials" in discovery["grant_types_supported"]
