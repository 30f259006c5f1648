"""Registering clients: `manage.py create_client`, seed_demo's clients, and the admin's secret shown once."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.test import Client

from issuer.models import RelyingApp

from ..conftest import PASSWORD
from .conftest import basic_auth

pytestmark = pytest.mark.django_db


def _create_client(*args: str) -> dict:
    out = StringIO()
    call_command("create_client", *args, stdout=out)
    return json.loads(out.getvalue())


def test_create_client_prints_its_id_and_secret_once(db):
    printed = _create_client(
        "Shop Example",
        "--redirect-uri",
        "https://shop.example.net/oidc/callback",
        "--redirect-uri",
        "https://shop.example.net/other",
        "--post-logout-redirect-uri",
        "https://shop.example.net/",
        "--backchannel-logout-uri",
        "https://shop.example.net/oidc/backchannel",
    )
    app = RelyingApp.objects.get(client_id=printed["client_id"])
    assert app.audience == "shop-example" and app.origin == "https://shop.example.net"
    assert app.redirect_uri_list == ["https://shop.example.net/oidc/callback", "https://shop.example.net/other"]
    assert app.client_metadata == {"post_logout_redirect_uris": ["https://shop.example.net/"]}
    assert app.backchannel_logout_uri == "https://shop.example.net/oidc/backchannel"
    assert printed["client_secret"] and printed["client_secret"] not in app.client_secret_hash
    assert app.check_client_secret(printed["client_secret"]) and not app.is_first_party


def test_create_client_public_has_no_secret_and_takes_an_audience(db):
    printed = _create_client(
        "Mobile", "--redirect-uri", "http://127.0.0.1:7000/cb", "--public", "--audience", "mobile-app"
    )
    assert printed["client_secret"] is None
    app = RelyingApp.objects.get(client_id=printed["client_id"])
    assert app.is_public and app.audience == "mobile-app" and app.client_secret_hash == ""


@pytest.mark.parametrize(
    "uri", ["not a url", "javascript:alert(1)", "https://shop.example.net/cb#frag", "https://user@shop.example.net/cb"]
)
def test_create_client_refuses_a_bad_redirect_uri(db, uri):
    with pytest.raises(CommandError):
        _create_client("Shop", "--redirect-uri", uri)
    assert not RelyingApp.objects.exists()


def test_create_client_refuses_a_taken_audience(apps):
    with pytest.raises(CommandError, match="audience"):
        _create_client("Orders again", "--redirect-uri", "https://x.example/cb", "--audience", "orders")


def test_create_client_gives_the_named_people_and_groups_access(db):
    alice = get_user_model().objects.create_user("alice")
    editors = Group.objects.create(name="editors")
    printed = _create_client(
        "Wiki", "--redirect-uri", "https://wiki.example.org/sso/callback/", "--user", "alice", "--group", "editors"
    )
    app = RelyingApp.objects.get(client_id=printed["client_id"])
    assert printed["audience"] == "wiki" == app.audience
    assert list(app.users.all()) == [alice] and list(app.groups.all()) == [editors]
    assert not app.is_first_party
    assert RelyingApp.objects.get(
        client_id=_create_client("Intranet", "--redirect-uri", "https://in.example/cb", "--first-party")["client_id"]
    ).is_first_party


def test_create_client_refuses_an_unknown_user_or_group_and_registers_nothing(db):
    with pytest.raises(CommandError, match="No such user or group: nobody, nogroup"):
        _create_client(
            "Wiki", "--redirect-uri", "https://wiki.example.org/cb", "--user", "nobody", "--group", "nogroup"
        )
    assert not RelyingApp.objects.exists()


def test_seed_demo_registers_orders_and_products_as_clients(db, settings):
    call_command("seed_demo", stdout=StringIO())
    for name, origin in [("orders", settings.ORDERS_URL), ("products", settings.PRODUCTS_URL)]:
        app = RelyingApp.objects.get(client_id=name)
        assert app.redirect_uri_list == [f"{origin}/sso/callback/"]
        assert app.post_logout_redirect_uri_list == [f"{origin}/"]
        assert app.backchannel_logout_uri == f"{origin}/sso/backchannel-logout/"
        assert app.is_first_party and not app.is_public
        assert app.check_client_secret(settings.DEMO_CLIENT_SECRET)
    # A secret changed since is left alone by the next seeding.
    orders = RelyingApp.objects.get(client_id="orders")
    orders.set_client_secret("changed")
    orders.save()
    call_command("seed_demo", stdout=StringIO())
    assert RelyingApp.objects.get(client_id="orders").check_client_secret("changed")


def test_seed_demo_clients_reach_the_token_endpoint(db, settings):
    call_command("seed_demo", stdout=StringIO())
    response = Client().post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": "x"},
        **basic_auth("orders", settings.DEMO_CLIENT_SECRET),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant", "authenticated, then refused"


@pytest.fixture
def superuser_browser(db) -> Client:
    get_user_model().objects.create_user("root", password=PASSWORD, is_staff=True, is_superuser=True)
    client = Client()
    client.login(username="root", password=PASSWORD)
    return client


def _secret_shown(response) -> str:
    (message,) = [str(m) for m in get_messages(response.wsgi_request) if "Secret of" in str(m)]
    return message.split(": ", 1)[1].split()[0]


def test_the_admin_shows_a_new_clients_secret_once(superuser_browser):
    response = superuser_browser.post(
        "/admin/issuer/relyingapp/add/",
        {
            "name": "Shop",
            "audience": "shop",
            "origin": "https://shop.example.net",
            "is_active": "on",
            "client_id": "shop",
            "client_type": "confidential",
            "redirect_uris": "https://shop.example.net/cb",
            "allowed_scopes": "openid profile",
        },
        follow=True,
    )
    secret = _secret_shown(response)
    app = RelyingApp.objects.get(client_id="shop")
    assert app.check_client_secret(secret)
    renewed = superuser_browser.post(
        "/admin/issuer/relyingapp/", {"action": "new_secret", "_selected_action": [app.pk]}, follow=True
    )
    new_secret = _secret_shown(renewed)
    app.refresh_from_db()
    assert new_secret != secret and app.check_client_secret(new_secret) and not app.check_client_secret(secret)


def test_only_superusers_may_generate_a_client_secret(apps):
    from django.contrib.auth.models import Permission

    staff = get_user_model().objects.create_user("sam", password=PASSWORD, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__in=["view_relyingapp", "change_relyingapp"]))
    client = Client()
    client.force_login(staff)
    app = apps["orders"]
    app.set_client_secret("kept")
    app.save()
    client.post("/admin/issuer/relyingapp/", {"action": "new_secret", "_selected_action": [app.pk]})
    app.refresh_from_db()
    assert app.check_client_secret("kept")


def _form_action(response) -> list[str]:
    policy = dict(
        directive.split(" ", 1) for directive in response["Content-Security-Policy"].split("; ") if " " in directive
    )
    return policy["form-action"].split()


def test_a_registered_client_is_where_the_issuers_forms_may_lead_with_no_restart(client):
    # Chromium applies form-action to the redirects after a form's submission: the sign-in form's answer goes
    # on to the authorization endpoint and from there to the client, on its own origin.
    assert "https://shop.example.net" not in _form_action(client.get("/login/"))
    _create_client(
        "Shop",
        "--redirect-uri",
        "https://shop.example.net/sso/callback/",
        "--post-logout-redirect-uri",
        "http://blog.other.test:8080/signed-out",
    )
    allowed = _form_action(client.get("/login/"))
    assert "https://shop.example.net" in allowed and "http://blog.other.test:8080" in allowed
    assert "'self'" in allowed
    RelyingApp.objects.filter(name="Shop").update(is_active=False)
    assert "https://shop.example.net" not in _form_action(client.get("/login/"))
    # An API answer holds no form: it keeps the fixed policy, with no query.
    assert "https://shop.example.net" not in _form_action(client.get("/.well-known/jwks.json"))


def test_the_issuer_answers_with_its_last_known_client_origins_while_the_database_is_down(client, monkeypatch):
    from django.db import DatabaseError

    _create_client("Shop", "--redirect-uri", "https://shop.example.net/sso/callback/")
    assert "https://shop.example.net" in _form_action(client.get("/login/"))

    def unavailable(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(RelyingApp.objects, "filter", unavailable)
    response = client.get("/login/")
    assert response.status_code == 200
    assert "https://shop.example.net" in _form_action(response)


def test_a_client_reads_its_own_registration_with_its_secret(db, users):
    printed = _create_client(
        "Wiki",
        "--redirect-uri",
        "https://wiki.example.org/sso/callback/",
        "--post-logout-redirect-uri",
        "https://wiki.example.org/",
        "--user",
        "bob",
    )
    response = Client().get("/oauth/client/", **basic_auth(printed["client_id"], printed["client_secret"]))
    assert response.status_code == 200 and response["Cache-Control"].startswith("no-store")
    assert response.json() == {
        "client_id": printed["client_id"],
        "client_name": "Wiki",
        "audience": "wiki",
        "redirect_uris": ["https://wiki.example.org/sso/callback/"],
        "post_logout_redirect_uris": ["https://wiki.example.org/"],
        "backchannel_logout_uri": None,
        "scope": "openid profile email offline_access",
        "first_party": False,
    }


def test_the_registration_is_refused_without_the_clients_secret(db):
    printed = _create_client("Wiki", "--redirect-uri", "https://wiki.example.org/cb")
    public = _create_client("App", "--redirect-uri", "https://app.example.org/cb", "--public")
    for headers in (
        {},
        basic_auth(printed["client_id"], "wrong"),
        basic_auth("nobody", "x"),
        basic_auth(public["client_id"], ""),
    ):
        response = Client().get("/oauth/client/", **headers)
        assert response.status_code == 401 and response.json()["error"] == "invalid_client"
        assert "wiki.example.org" not in response.content.decode()
    assert (
        Client().post("/oauth/client/", **basic_auth(printed["client_id"], printed["client_secret"])).status_code == 405
    )
