"""sso_client's any-domain mode (OpenID Connect relying party) in-process, with the issuer faked at requests'
transport seam: the code flow with PKCE, this site's own cookies, refresh, logout, back-channel logout, and
the hostile cases (state, nonce, ID tokens for another audience, issuer, algorithm or type, a replayed
callback, open redirects through `next`, forged logout tokens, an ended session's tokens); and step-up: a page
needing a recent second factor goes through this site's login with max_age and acr_values=urn:sso:2fa, which
pass into the authorization request only as a whole number of seconds and the one acr the issuer knows."""

import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.core.checks import run_checks
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from sso_client.claims import BACKCHANNEL_LOGOUT_EVENT
from sso_client.conf import sso_settings
from sso_client.step_up import RequiresMFA
from tests import fake_http
from tests.keys import ISSUER, jwks, kid_of, mint_token, private_key
from tests.orders.test_browser_pages import csrf_token_of
from tests.sso_client.test_kept_form import kept_config

pytestmark = pytest.mark.django_db

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CLIENT_ID = "orders"
CLIENT_SECRET = "test-client-secret"
CALLBACK = "http://testserver/sso/callback/"
TWO_FACTORS = "urn:sso:2fa"
DISCOVERY = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/session/authorize/",
    "token_endpoint": f"{ISSUER}/oauth/token/",
    "end_session_endpoint": f"{ISSUER}/oauth/logout/",
    "jwks_uri": f"{ISSUER}/.well-known/jwks.json",
    "authorization_response_iss_parameter_supported": True,
}


def oidc_token(typ: str = "JWT", key: str = "main", algorithm: str = "RS256", **overrides) -> str:
    """An ID token (or, with typ logout+jwt and the claims for it, a logout token) from the test key."""
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "2", "aud": CLIENT_ID, "exp": now + 300, "iat": now, "auth_time": now}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    signing_key = "a-shared-secret-of-thirty-two-bytes!" if algorithm.startswith("HS") else private_key(key)
    return jwt.encode(claims, signing_key, algorithm=algorithm, headers={"kid": kid_of(key), "typ": typ})


def logout_token(**overrides) -> str:
    claims = {"jti": secrets.token_hex(8), "sid": "client-session", "events": {BACKCHANNEL_LOGOUT_EVENT: {}}}
    return oidc_token(typ="logout+jwt", auth_time=None, **{**claims, **overrides})


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class FakeIssuer:
    """The issuer's discovery and token endpoint. `authorize` stands for its authorization endpoint: it issues
    a code bound to the request's PKCE challenge, nonce and redirect URI; a code works once."""

    def __init__(self) -> None:
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: set[str] = set()
        self.id_token_claims: dict = {}  # what the next ID token changes, for the hostile cases
        self.id_token_header: dict = {}
        self.access_claims: dict = {}  # what the next access token changes (a step-up's amr, say)
        self.sid = "client-session"

    def authorize(self, location: str) -> dict[str, str]:
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        code = secrets.token_urlsafe(16)
        self.codes[code] = params
        return {"code": code, "state": params["state"], "iss": ISSUER}

    def tokens(self, *, nonce: str | None) -> dict:
        access = mint_token(sid=self.sid, aud=["orders"], **self.access_claims)
        refresh = secrets.token_urlsafe(16)
        self.refresh_tokens.add(refresh)
        at_hash = base64.urlsafe_b64encode(hashlib.sha256(access.encode()).digest()[:16]).rstrip(b"=").decode()
        claims = {"nonce": nonce, "sid": self.sid, "at_hash": at_hash, **self.id_token_claims}
        id_token = oidc_token(**{**claims, **self.id_token_header})
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 300,
            "refresh_token": refresh,
            "id_token": id_token,
        }

    def token_endpoint(self, request) -> fake_http.Reply:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return fake_http.reply(401, {"error": "invalid_client"})
        form = fake_http._body_of(request)
        if form["grant_type"] == "authorization_code":
            sent = self.codes.pop(form["code"], None)
            if (
                sent is None
                or s256(form["code_verifier"]) != sent["code_challenge"]
                or form["redirect_uri"] != sent["redirect_uri"]
            ):
                return fake_http.reply(400, {"error": "invalid_grant"})
            return fake_http.reply(200, self.tokens(nonce=sent["nonce"]))
        if form["grant_type"] == "refresh_token" and form["refresh_token"] in self.refresh_tokens:
            self.refresh_tokens.discard(form["refresh_token"])  # rotated: a second use is refused
            return fake_http.reply(200, {k: v for k, v in self.tokens(nonce=None).items() if k != "id_token"})
        return fake_http.reply(400, {"error": "invalid_grant"})


@pytest.fixture
def issuer(monkeypatch, settings, relying_app) -> FakeIssuer:
    settings.SSO_CLIENT = {
        **settings.SSO_CLIENT,
        "MODE": "oidc",
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
    }
    fake = FakeIssuer()
    network = fake_http.install(monkeypatch, fake_http.FakeNetwork())
    network.route("/.well-known/openid-configuration", lambda request: fake_http.reply(200, DISCOVERY))
    network.route("/oauth/token/", fake.token_endpoint)
    network.route("/.well-known/jwks.json", lambda request: fake_http.reply(200, jwks()))  # an unknown kid's refetch
    fake.network = network
    return fake


@pytest.fixture
def browser() -> APIClient:
    return APIClient(HTTP_ACCEPT=HTML)


def start(browser, next_path: str = "/api/orders/"):
    response = browser.get("/sso/login/", {"next": next_path})
    assert response.status_code == 302
    return response


def sign_in(browser, issuer, next_path: str = "/api/orders/"):
    """The whole flow: this site's login, the issuer's authorization (faked), the callback."""
    answer = issuer.authorize(start(browser, next_path)["Location"])
    return browser.get("/sso/callback/", answer)


# ---- the flow ---------------------------------------------------------------------------------------


def test_login_sends_the_browser_to_the_authorization_endpoint_with_pkce_state_and_nonce(browser, issuer):
    response = start(browser)
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == DISCOVERY["authorization_endpoint"]
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == CALLBACK
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert "openid" in params["scope"].split()
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    flow = response.cookies["sso_flow"]
    assert flow["httponly"] and flow["samesite"] == "Lax" and flow["path"] == "/sso/" and not flow["domain"]
    assert "no-store" in response["Cache-Control"]


def test_the_callback_keeps_the_tokens_in_this_sites_own_cookies_and_goes_back(browser, issuer):
    response = sign_in(browser, issuer)
    assert response.status_code == 302
    assert response["Location"] == "/api/orders/"
    access, refresh, id_token = (response.cookies[name] for name in ("sso_access", "sso_refresh", "sso_id_token"))
    for cookie in (access, refresh, id_token):
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["domain"]
    assert access["path"] == "/" and 0 < int(access["max-age"]) <= 300
    assert refresh["path"] == "/sso/" and id_token["path"] == "/sso/"
    assert response.cookies["sso_flow"]["max-age"] == 0  # the sign-in in flight is used once
    token_call = issuer.network.calls_to("/oauth/token/")[0]
    assert token_call[1]["grant_type"] == "authorization_code"
    page = browser.get("/api/orders/")
    assert page.status_code == 200
    assert b"bob" in page.content


def test_the_relying_pages_sign_out_posts_to_this_sites_logout(browser, issuer):
    sign_in(browser, issuer)
    page = browser.get("/").content.decode()
    assert 'action="/sso/logout/"' in page and 'name="csrfmiddlewaretoken"' in page


@pytest.mark.parametrize(
    "next_path",
    ["//evil.example/", "https://evil.example/", "/\\evil.example/", "///evil.example", "javascript:alert(1)"],
)
def test_next_is_only_ever_a_path_on_this_site(browser, issuer, next_path):
    response = sign_in(browser, issuer, next_path)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_a_browser_without_a_valid_cookie_is_sent_to_this_sites_refresh_first(browser, issuer):
    response = browser.get("/api/orders/?page=2")
    assert response.status_code == 302
    assert response["Location"] == "/sso/refresh/?next=%2Fapi%2Forders%2F%3Fpage%3D2"
    # No refresh cookie: on to this site's login, keeping where the browser was going.
    response = browser.get(response["Location"])
    assert response["Location"] == "/sso/login/?next=%2Fapi%2Forders%2F%3Fpage%3D2"


def test_refresh_renews_the_access_cookie_server_to_server_and_goes_back(browser, issuer):
    first = sign_in(browser, issuer).cookies["sso_access"].value
    response = browser.get("/sso/refresh/", {"next": "/api/orders/"})
    assert response.status_code == 302 and response["Location"] == "/api/orders/"
    assert response.cookies["sso_access"].value != first
    assert issuer.network.calls_to("/oauth/token/")[-1][1]["grant_type"] == "refresh_token"


def test_a_refresh_token_is_presented_to_the_issuer_once_even_by_two_requests(browser, issuer):
    sign_in(browser, issuer)
    spent = browser.cookies["sso_refresh"].value
    assert browser.get("/sso/refresh/").status_code == 302
    browser.cookies["sso_refresh"] = spent  # a second tab that still holds the rotated one
    response = browser.get("/sso/refresh/")
    assert response["Location"] == "/", "the second request got the first one's answer, not a reuse refusal"
    assert [call[1]["grant_type"] for call in issuer.network.calls_to("/oauth/token/")].count("refresh_token") == 1


def test_a_refused_refresh_goes_on_to_login_and_forgets_the_cookies(browser, issuer):
    sign_in(browser, issuer)
    issuer.refresh_tokens.clear()  # the session ended at the issuer
    response = browser.get("/sso/refresh/", {"next": "/api/orders/"})
    assert response["Location"] == "/sso/login/?next=%2Fapi%2Forders%2F"
    assert response.cookies["sso_refresh"]["max-age"] == 0 and response.cookies["sso_access"]["max-age"] == 0


def test_the_renewal_script_refreshes_with_a_same_origin_post_only(browser, issuer):
    sign_in(browser, issuer)
    assert browser.post("/sso/refresh/").status_code == 403  # no Origin
    assert browser.post("/sso/refresh/", HTTP_ORIGIN="http://evil.example").status_code == 403
    response = browser.post("/sso/refresh/", HTTP_ORIGIN="http://testserver")
    assert response.status_code == 200
    assert 0 < response.json()["expires_in"] <= 300
    issuer.refresh_tokens.clear()
    browser.cookies["sso_refresh"] = "spent"
    assert browser.post("/sso/refresh/", HTTP_ORIGIN="http://testserver").status_code == 401


def test_a_form_posted_after_the_cookie_expired_is_kept_and_renewed_through_this_site(issuer):
    browser = APIClient(HTTP_ACCEPT=HTML, enforce_csrf_checks=True)
    sign_in(browser, issuer)
    token = csrf_token_of(browser.get("/api/orders/").content.decode())
    browser.cookies["sso_access"] = mint_token(sid=issuer.sid, iat=1_000_000, exp=1_000_300)
    response = browser.post("/api/orders/", {"sku": "mug-blue", "quantity": "2", "csrfmiddlewaretoken": token})
    assert response.status_code == 401
    page = response.content.decode()
    assert kept_config(page) == {"tokenUrl": "/sso/refresh/", "resubmit": True}
    assert 'href="/sso/refresh/?next=%2Fapi%2Forders%2F"' in page


# ---- the hostile cases --------------------------------------------------------------------------------


def assert_refused(response) -> None:
    assert response.status_code == 400
    assert "sso_access" not in response.cookies
    assert b"Sign-in did not complete" in response.content


def test_a_state_that_does_not_match_is_refused(browser, issuer):
    answer = issuer.authorize(start(browser)["Location"])
    assert_refused(browser.get("/sso/callback/", {**answer, "state": "forged"}))
    assert issuer.network.calls_to("/oauth/token/") == [], "the code is never exchanged"


def test_a_callback_without_a_sign_in_in_flight_is_refused(browser, issuer):
    answer = issuer.authorize(start(APIClient(HTTP_ACCEPT=HTML))["Location"])  # started in another browser
    assert_refused(browser.get("/sso/callback/", answer))


def test_an_authorization_response_from_another_issuer_is_refused(browser, issuer):
    answer = issuer.authorize(start(browser)["Location"])
    assert_refused(browser.get("/sso/callback/", {**answer, "iss": "http://evil.example"}))
    answer = issuer.authorize(start(browser)["Location"])
    assert_refused(browser.get("/sso/callback/", {k: v for k, v in answer.items() if k != "iss"}))


def test_a_replayed_callback_is_refused(browser, issuer):
    location = start(browser)["Location"]
    flow_cookie = browser.cookies["sso_flow"].value
    answer = issuer.authorize(location)
    assert browser.get("/sso/callback/", answer).status_code == 302
    assert_refused(browser.get("/sso/callback/", answer))  # the sign-in in flight is gone
    browser.cookies["sso_flow"] = flow_cookie  # kept by an attacker: the code itself works once
    assert_refused(browser.get("/sso/callback/", answer))


def test_an_id_token_with_another_nonce_is_refused(browser, issuer):
    issuer.id_token_claims = {"nonce": "another"}
    assert_refused(sign_in(browser, issuer))


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "products"},  # another client's
        {"aud": ["orders", "products"]},  # several audiences and no azp
        {"iss": "http://evil.example"},
        {"iss": ISSUER + "/"},  # exact iss only
        {"exp": int(time.time()) - 3600},
        {"nonce": None},
        {"sid": None},
        {"token_type": "access"},  # an access token's claims
        {"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"},
    ],
)
def test_an_id_token_with_wrong_claims_is_refused(browser, issuer, claims):
    issuer.id_token_claims = claims
    assert_refused(sign_in(browser, issuer))


@pytest.mark.parametrize(
    "header",
    [
        {"typ": "at+jwt"},  # an access token
        {"typ": "logout+jwt"},
        {"algorithm": "HS256"},
        {"algorithm": "PS256"},
        {"key": "other"},  # a key the issuer never published
    ],
)
def test_an_id_token_of_another_type_algorithm_or_key_is_refused(browser, issuer, header):
    issuer.id_token_header = header
    assert_refused(sign_in(browser, issuer))


def test_a_token_endpoint_refusal_is_a_400_and_an_unreachable_issuer_a_502(browser, issuer, monkeypatch):
    answer = issuer.authorize(start(browser)["Location"])
    issuer.codes.clear()
    assert_refused(browser.get("/sso/callback/", answer))
    answer = issuer.authorize(start(browser)["Location"])
    issuer.network.routes.insert(0, ("/oauth/token/", lambda request: fake_http.reply(503, b"down")))
    assert browser.get("/sso/callback/", answer).status_code == 502


# ---- logout -----------------------------------------------------------------------------------------------


def test_logout_is_a_post_with_csrf(issuer):
    browser = APIClient(HTTP_ACCEPT=HTML, enforce_csrf_checks=True)
    sign_in(browser, issuer)
    assert browser.get("/sso/logout/").status_code == 405
    assert browser.post("/sso/logout/").status_code == 403


def test_logout_clears_the_cookies_and_goes_to_the_issuers_end_session(issuer):
    browser = APIClient(HTTP_ACCEPT=HTML, enforce_csrf_checks=True)
    sign_in(browser, issuer)
    id_token = browser.cookies["sso_id_token"].value
    browser.get("/")  # a page with the sign-out form, and the CSRF cookie
    csrf = browser.cookies["orders_csrftoken"].value
    access = browser.cookies["sso_access"].value
    response = browser.post("/sso/logout/", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == DISCOVERY["end_session_endpoint"]
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["id_token_hint"] == id_token
    assert params["post_logout_redirect_uri"] == "http://testserver/"
    assert params["client_id"] == CLIENT_ID and params["state"]
    for name in ("sso_access", "sso_refresh", "sso_id_token"):
        assert response.cookies[name]["max-age"] == 0
    # A copy of the access token stops working here at once.
    assert APIClient().get("/api/orders/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401


def backchannel(token: str):
    return APIClient().post("/sso/backchannel-logout/", {"logout_token": token}, format="multipart")


def test_a_backchannel_logout_ends_the_session_here_at_once(browser, issuer):
    sign_in(browser, issuer)
    access = browser.cookies["sso_access"].value
    assert browser.get("/api/orders/").status_code == 200
    response = backchannel(logout_token(sid=issuer.sid))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    response = browser.get("/api/orders/")
    assert response.status_code == 302 and response["Location"].startswith("/sso/refresh/")
    assert APIClient().get("/api/orders/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
    # Another session of the same person is not touched.
    other = mint_token(sid="another-session")
    assert APIClient().get("/api/orders/", HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        lambda: logout_token(key="other"),  # forged: a key the issuer never published
        lambda: logout_token(algorithm="HS256"),
        lambda: logout_token(aud="products"),
        lambda: logout_token(iss="http://evil.example"),
        lambda: logout_token(nonce="n"),  # the spec forbids a nonce in a logout token
        lambda: logout_token(events={}),
        lambda: logout_token(events={BACKCHANNEL_LOGOUT_EVENT: "yes"}),
        lambda: logout_token(jti=None),
        lambda: logout_token(sid=None),
        lambda: logout_token(exp=int(time.time()) - 3600),
        lambda: oidc_token(typ="JWT", jti="j", sid="client-session", events={BACKCHANNEL_LOGOUT_EVENT: {}}),
        lambda: mint_token(sid="client-session"),  # an access token
        lambda: "not-a-token",
        lambda: "",
    ],
)
def test_a_forged_or_malformed_logout_token_is_refused(issuer, token):
    response = backchannel(token())
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    victim = mint_token(sid="client-session")
    assert APIClient().get("/api/orders/", HTTP_AUTHORIZATION=f"Bearer {victim}").status_code == 200


def test_backchannel_logout_is_a_post(issuer):
    assert APIClient().get("/sso/backchannel-logout/").status_code == 405


# ---- configuration ------------------------------------------------------------------------------------


def test_the_endpoints_are_not_there_in_cookie_mode(browser):
    assert browser.get("/sso/login/").status_code == 404
    assert backchannel(logout_token()).status_code == 404


@pytest.mark.parametrize(
    ("change", "error_id"),
    [
        ({"MODE": "openid"}, "sso_client.E005"),
        ({"MODE": "oidc", "CLIENT_ID": None, "CLIENT_SECRET": "s"}, "sso_client.E006"),
        ({"MODE": "oidc", "CLIENT_ID": "orders", "CLIENT_SECRET": ""}, "sso_client.E007"),
    ],
)
def test_system_checks_refuse_an_incomplete_oidc_configuration(settings, change, error_id):
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, **change}
    assert error_id in {error.id for error in run_checks()}


# ---- step-up ------------------------------------------------------------------------------------------


class RecentMFAPage(APIView):
    """A page (HTML for a browser) needing a second factor within five minutes."""

    permission_classes = [IsAuthenticated, RequiresMFA(5)]
    renderer_classes = [TemplateHTMLRenderer, JSONRenderer]
    template_name = "sso_client/kept_form.html"

    def get(self, request):
        return Response({"ok": True})


def open_page(access: str):
    request = APIRequestFactory().get("/danger/?tab=2", HTTP_ACCEPT="text/html")
    request.COOKIES[sso_settings()["ACCESS_COOKIE_NAME"]] = access
    return RecentMFAPage.as_view()(request)


def authorization_params(response) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(response["Location"]).query).items()}


def test_a_page_needing_mfa_sends_the_browser_to_this_sites_login_asking_for_two_factors(issuer):
    response = open_page(mint_token(amr=["pwd"], auth_time=int(time.time())))
    assert response.status_code == 302 and "insufficient_user_authentication" in response["WWW-Authenticate"]
    location = urlsplit(response["Location"])
    assert not location.scheme and not location.netloc and location.path == "/sso/login/"
    assert parse_qs(location.query) == {"next": ["/danger/?tab=2"], "max_age": ["300"], "acr_values": [TWO_FACTORS]}


def test_login_passes_max_age_and_acr_values_into_the_authorization_request(browser, issuer):
    response = browser.get("/sso/login/", {"next": "/danger/", "max_age": "300", "acr_values": TWO_FACTORS})
    params = authorization_params(response)
    assert params["max_age"] == "300" and params["acr_values"] == TWO_FACTORS
    assert params["code_challenge_method"] == "S256" and params["state"]


def test_an_ordinary_login_asks_for_neither(browser, issuer):
    params = authorization_params(start(browser))
    assert "max_age" not in params and "acr_values" not in params


@pytest.mark.parametrize(
    "max_age", ["-1", "+300", "1e3", "300.5", "0x12c", " 300", "300&prompt=none", "\u0663\u0660\u0660", "1" * 10]
)
def test_a_hostile_max_age_is_left_out(browser, issuer, max_age):
    response = browser.get("/sso/login/", {"next": "/danger/", "max_age": max_age, "acr_values": TWO_FACTORS})
    assert response.status_code == 302
    params = authorization_params(response)
    assert "max_age" not in params and "prompt" not in params and params["acr_values"] == TWO_FACTORS


def test_a_max_age_is_sent_as_a_plain_number(browser, issuer):
    assert authorization_params(browser.get("/sso/login/", {"max_age": "0600"}))["max_age"] == "600"


@pytest.mark.parametrize("acr_values", ["urn:sso:1fa", "urn:sso:2fa urn:other", "URN:SSO:2FA", "x", ""])
def test_an_acr_value_other_than_two_factors_is_left_out(browser, issuer, acr_values):
    params = authorization_params(browser.get("/sso/login/", {"max_age": "300", "acr_values": acr_values}))
    assert "acr_values" not in params and params["max_age"] == "300"


def test_the_callback_keeps_the_stepped_up_session_and_the_page_then_answers(browser, issuer):
    assert open_page(mint_token(amr=["pwd"], auth_time=int(time.time()))).status_code == 302
    login = browser.get("/sso/login/", {"next": "/danger/?tab=2", "max_age": "300", "acr_values": TWO_FACTORS})
    issuer.access_claims = {"amr": ["pwd", "otp", "mfa"], "acr": TWO_FACTORS, "auth_time": int(time.time())}
    callback = browser.get("/sso/callback/", issuer.authorize(login["Location"]))
    assert callback.status_code == 302 and callback["Location"] == "/danger/?tab=2"
    assert open_page(callback.cookies["sso_access"].value).status_code == 200


def test_in_cookie_mode_the_page_still_goes_to_the_issuers_step_up_page():
    response = open_page(mint_token(amr=["pwd"], auth_time=int(time.time())))
    assert response["Location"].startswith(f"{sso_settings()['ISSUER'].rstrip('/')}/login/step-up/?")
