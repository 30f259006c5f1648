"""Registration in one place: a client registered at the issuer (the admin or `create_client`) is all the
issuer needs. Its origins join the redirect allowlist, the sign-in forms' CSP and, for a first-party client,
CORS and the cookie-renewal endpoint, read from the database with no environment variable and no restart."""

import pytest
from django.db import DatabaseError

from issuer import selectors
from issuer.models import RelyingApp
from issuer.services import browser

from .test_browser_pages import sign_in

WIKI = "https://wiki.example.org"
PARTNER = "https://partner.example.net"


@pytest.fixture
def registered(users):
    """A first-party site on an unrelated domain, and a third-party client, both registered after start-up."""
    wiki = RelyingApp.objects.create(
        name="Wiki",
        audience="wiki",
        origin=WIKI,
        redirect_uris=f"{WIKI}/sso/callback/",
        post_logout_redirect_uris="https://wiki-out.example.org/bye/",
        is_first_party=True,
    )
    partner = RelyingApp.objects.create(
        name="Partner", audience="partner", origin=PARTNER, redirect_uris=f"{PARTNER}/cb"
    )
    wiki.users.add(users["bob"])
    return {"wiki": wiki, "partner": partner}


def test_a_registered_clients_origins_are_redirect_targets(registered):
    assert browser.redirect_target(f"{WIKI}/pages/home") == f"{WIKI}/pages/home"
    assert browser.redirect_target("https://wiki-out.example.org/bye/") == "https://wiki-out.example.org/bye/"
    assert browser.redirect_target(f"{PARTNER}/after") == f"{PARTNER}/after"


@pytest.mark.parametrize(
    "target",
    [
        "https://wiki.example.org.evil.example/",
        "https://wiki.example.org:8443/",
        "http://wiki.example.org/",
        f"https://user@{WIKI[8:]}/",
        "//wiki.example.org/",
        "javascript://wiki.example.org/%0aalert(1)",
    ],
)
def test_look_alikes_of_a_registered_origin_go_home(registered, target):
    assert browser.redirect_target(target) == "/"


def test_a_deactivated_or_deleted_client_is_no_longer_a_target(registered):
    registered["wiki"].is_active = False
    registered["wiki"].save()
    assert browser.redirect_target(f"{WIKI}/pages/home") == "/"
    registered["partner"].delete()
    assert browser.redirect_target(f"{PARTNER}/after") == "/"


def test_signing_in_returns_to_a_site_registered_after_start_up(client, registered):
    response = sign_in(client, "bob", next_url=f"{WIKI}/pages/home")
    assert response.status_code == 302 and response["Location"] == f"{WIKI}/pages/home"


def test_the_sign_in_forms_may_lead_to_every_registered_origin(client, registered):
    policy = client.get("/login/")["Content-Security-Policy"]
    form_action = next(d for d in policy.split("; ") if d.startswith("form-action "))
    for origin in (WIKI, "https://wiki-out.example.org", PARTNER):
        assert origin in form_action.split()


def preflight(client, origin: str):
    return client.options("/session/token/", HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")


def test_a_first_party_sites_script_may_call_the_issuer_and_a_third_partys_may_not(client, registered):
    allowed = preflight(client, WIKI)
    assert allowed.status_code == 200 and allowed["Access-Control-Allow-Origin"] == WIKI
    assert allowed["Access-Control-Allow-Credentials"] == "true"
    refused = preflight(client, PARTNER)
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    # The cookie-renewal endpoint checks the Origin itself: a third party's page would get the person's token.
    assert client.post("/session/token/", HTTP_ORIGIN=PARTNER).json()["code"] == "origin_not_allowed"
    assert client.post("/session/token/", HTTP_ORIGIN=WIKI).json()["code"] == "not_signed_in"


def test_registering_takes_effect_at_once_and_deactivating_too(client, registered):
    assert preflight(client, "https://new.example.org").status_code == 403
    RelyingApp.objects.create(name="New", audience="new", origin="https://new.example.org", is_first_party=True)
    assert preflight(client, "https://new.example.org").status_code == 200
    RelyingApp.objects.filter(audience="new").update(is_active=False)
    assert preflight(client, "https://new.example.org").status_code == 403


def test_with_the_database_down_the_last_origins_read_still_hold(registered, monkeypatch):
    assert WIKI in selectors.client_origins().scripts

    def down(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(RelyingApp.objects, "filter", down)
    kept = selectors.client_origins()
    assert WIKI in kept.scripts and PARTNER in kept.pages and PARTNER not in kept.scripts
