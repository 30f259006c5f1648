"""RP-initiated logout at /oauth/logout/: a verified ID token hint ends the sign-on it came from (every client
of it, each told over the back channel) and sends the browser to a registered post-logout URI with `state`;
without one, the person is asked first and nothing is ended or redirected."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata as DiscoveryMetadata
from authlib.oidc.rpinitiated import OpenIDProviderMetadata as RPInitiatedMetadata
from django.conf import settings
from django.test import Client

from issuer import clock
from issuer.models import BackchannelLogout, SSOSession
from issuer.services.oidc_provider import id_token_sign
from issuer.views import discovery

from .receiver import Receiver, join_delivery_threads, verified_logout_token
from .signed_on import browser_sign_on, client_sign_on, oidc_client

SHOP = "https://shop.example.net"
BLOG = "https://blog.other.test"
ACCESS_COOKIE = settings.SSO_BROWSER["ACCESS_COOKIE_NAME"]
REFRESH_COOKIE = settings.SSO_BROWSER["REFRESH_COOKIE_NAME"]


@pytest.fixture
def world(apps, users, client):
    """bob signed on in `client`, and through that sign-on at two clients on unrelated domains."""
    shop = oidc_client(apps["orders"], origin=SHOP, backchannel_uri=f"{SHOP}/sso/backchannel-logout/")
    blog = oidc_client(apps["products"], origin=BLOG, backchannel_uri=f"{BLOG}/sso/backchannel-logout/")
    browser = browser_sign_on(client, user=users["bob"]).session
    return {
        "browser": browser,
        "shop": client_sign_on(browser=browser, app=shop),
        "blog": client_sign_on(browser=browser, app=blog),
    }


def live(session: SSOSession) -> bool:
    session.refresh_from_db()
    return session.is_active


def cleared(response, name: str) -> bool:
    cookie = response.cookies.get(name)
    return cookie is not None and cookie.value == "" and cookie["max-age"] == 0


def test_a_verified_hint_ends_the_sign_on_and_returns_to_the_registered_uri_with_state(client, world):
    response = client.get(
        "/oauth/logout/",
        {"id_token_hint": world["shop"].id_token, "post_logout_redirect_uri": f"{SHOP}/signed-out/", "state": "s 1&"},
    )
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{SHOP}/signed-out/"
    assert parse_qs(location.query) == {"state": ["s 1&"]}
    assert not live(world["browser"]) and not live(world["shop"].session) and not live(world["blog"].session)
    assert world["shop"].session.revoked_reason == SSOSession.RevokedReason.SIGNED_OUT
    assert set(BackchannelLogout.objects.values_list("sid", flat=True)) == {
        world["shop"].session.sid,
        world["blog"].session.sid,
    }
    assert cleared(response, ACCESS_COOKIE) and cleared(response, REFRESH_COOKIE)
    assert "no-store" in response["Cache-Control"]


def test_a_hint_posted_as_a_form_works_without_the_issuers_csrf_token(world):
    relying_party_form = Client(enforce_csrf_checks=True)
    response = relying_party_form.post(
        "/oauth/logout/", {"id_token_hint": world["blog"].id_token, "post_logout_redirect_uri": f"{BLOG}/"}
    )
    assert response.status_code == 302 and response["Location"] == f"{BLOG}/"
    assert not live(world["browser"])


def test_without_a_redirect_uri_the_browser_lands_on_the_signed_out_page(client, world):
    response = client.get("/oauth/logout/", {"id_token_hint": world["shop"].id_token})
    assert response.status_code == 302 and response["Location"] == "/logout/done/"
    assert not live(world["browser"])


def test_an_expired_hint_is_accepted(client, world, monkeypatch):
    real_now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: real_now - timedelta(hours=3))
    expired = id_token_sign(
        session=world["shop"].session, client_id=world["shop"].session.client.client_id, access_token="a"
    )
    monkeypatch.setattr(clock, "now", lambda: real_now)
    response = client.get("/oauth/logout/", {"id_token_hint": expired, "post_logout_redirect_uri": f"{SHOP}/"})
    assert response.status_code == 302 and response["Location"] == f"{SHOP}/"
    assert not live(world["browser"])


def test_a_hint_for_a_session_already_ended_still_redirects_and_ends_nothing_else(client, world, users):
    first = client.get("/oauth/logout/", {"id_token_hint": world["shop"].id_token})
    assert first.status_code == 302
    again = client.get(
        "/oauth/logout/", {"id_token_hint": world["shop"].id_token, "post_logout_redirect_uri": f"{SHOP}/"}
    )
    assert again.status_code == 302 and again["Location"] == f"{SHOP}/"
    assert BackchannelLogout.objects.count() == 2


@pytest.mark.parametrize("method", ["get", "post"])
def test_without_a_hint_the_person_is_asked_first_and_nothing_ends(client, world, method):
    response = getattr(client, method)(
        "/oauth/logout/", {"client_id": world["shop"].session.client.client_id, "post_logout_redirect_uri": f"{SHOP}/"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'action="/session/logout/"' in page and "csrfmiddlewaretoken" in page
    assert SHOP not in page
    assert live(world["browser"]) and live(world["shop"].session)
    assert not response.cookies.get(ACCESS_COOKIE)


def test_the_confirmation_form_signs_out_every_client(world):
    browser = Client(enforce_csrf_checks=True)
    pair = browser_sign_on(browser, user=world["browser"].user)
    shop_here = client_sign_on(browser=pair.session, app=world["shop"].session.client)
    page = browser.get("/oauth/logout/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = browser.post("/session/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert not live(pair.session) and not live(shop_here.session)
    assert shop_here.session.revoked_reason == SSOSession.RevokedReason.SIGNED_OUT
    assert live(world["browser"])


def test_cookies_of_another_live_sign_on_in_this_browser_stay(client, world, users):
    carols = browser_sign_on(client, user=users["carol"]).session
    response = client.get("/oauth/logout/", {"id_token_hint": world["shop"].id_token})
    assert response.status_code == 302
    assert not live(world["browser"])
    assert live(carols)
    assert not response.cookies.get(ACCESS_COOKIE) and not response.cookies.get(REFRESH_COOKIE)


def test_the_discovery_document_names_what_is_served(client, settings, db):
    body = client.get("/.well-known/openid-configuration").json()
    base = settings.SSO_ISSUER_URL
    assert body["end_session_endpoint"] == f"{base}/oauth/logout/"
    assert body["userinfo_endpoint"] == f"{base}/oauth/userinfo/"
    assert body["backchannel_logout_supported"] is True and body["backchannel_logout_session_supported"] is True
    assert body["frontchannel_logout_supported"] is False
    for name in ("end_session_endpoint", "userinfo_endpoint"):
        # Served here: a bare request is the confirmation page or a Bearer challenge, not a 404.
        assert client.get(body[name].removeprefix(base)).status_code in (200, 401)
    settings.SSO_ISSUER_URL = "https://sso.example.com"  # the specifications require https
    metadata = discovery.provider_metadata()
    DiscoveryMetadata(metadata).validate()
    RPInitiatedMetadata(metadata).validate_end_session_endpoint()


@pytest.mark.django_db(transaction=True)
def test_rp_initiated_logout_reaches_every_client_over_the_back_channel(apps, users):
    receiver = Receiver().start()
    try:
        shop = oidc_client(apps["orders"], origin=SHOP, backchannel_uri=receiver.url)
        blog = oidc_client(apps["products"], origin=BLOG, backchannel_uri=receiver.url)
        browser_client = Client()
        browser = browser_sign_on(browser_client, user=users["bob"]).session
        at_shop, at_blog = client_sign_on(browser=browser, app=shop), client_sign_on(browser=browser, app=blog)
        response = browser_client.get("/oauth/logout/", {"id_token_hint": at_shop.id_token})
        assert response.status_code == 302
        join_delivery_threads()
    finally:
        receiver.stop()
    delivered = {}
    for raw in receiver.tokens():
        audience = jwt.decode(raw, options={"verify_signature": False})["aud"]
        delivered[audience] = verified_logout_token(raw, audience=audience)["sid"]
    assert delivered == {shop.client_id: at_shop.session.sid, blog.client_id: at_blog.session.sid}
