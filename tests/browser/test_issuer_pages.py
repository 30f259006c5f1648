"""Every form of the issuer submitted in Chromium, and what a person sees after: sign in (the app it leads to,
a wrong password, the throttle's wait), sign out, password reset from the emailed link to signing in with the
new password, staff-only pages refused with a reason, the token inspector's verdicts, and no page asking for
a missing icon. The stack mails to files, so the test reads the link a person would click."""

import math
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests

from tests.servers import DEMO_PASSWORD, Stack, running_stack

from .conftest import COOKIE_DOMAIN, HOSTS

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a brand new passphrase 42"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, chromium) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("issuer-pages")
    extra_env = {
        "SSO_COOKIE_DOMAIN": COOKIE_DOMAIN,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(data_dir / "mail"),
    }
    with running_stack(data_dir, hosts=HOSTS, extra_env=extra_env) as stack:
        yield stack


def submit(page, selector: str = "button[type=submit]"):
    with page.expect_navigation() as navigation:
        page.click(selector)
    return navigation.value


def sign_in(page, stack, username: str, *, password: str = DEMO_PASSWORD, next_url: str = ""):
    query = f"?next={quote(next_url, safe='')}" if next_url else ""
    page.goto(f"{stack.url['issuer']}/login/{query}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    return submit(page)


# ---- sign in and out ----------------------------------------------------------------------------------


def test_the_sign_in_page_names_the_app_and_returns_to_it(page, stack):
    target = f"{stack.url['orders']}/api/orders/"
    page.goto(target)
    assert page.inner_text("#login-destination") == "To continue to Orders. One sign-in for every app."
    page.fill("#id_username", "bob")
    page.fill("#id_password", "not the password")
    assert submit(page).status == 401
    assert page.inner_text("#login-error") == "Wrong username or password."
    assert page.input_value("#id_username") == "bob"
    assert page.inner_text("#login-destination").startswith("To continue to Orders"), "the target is kept"
    page.fill("#id_password", DEMO_PASSWORD)
    submit(page)
    assert page.url == target
    assert page.inner_text("#sso-username") == "bob"


def test_a_throttled_sign_in_says_how_long_to_wait(page, stack):
    window_opened = time.monotonic()
    for _ in range(5):
        assert sign_in(page, stack, "mallory", password="guess").status == 401
    response = sign_in(page, stack, "mallory", password="guess")
    assert response.status == 429
    # The window opened at the first guess: what is left of its 600 s, whatever the machine's load.
    elapsed = math.ceil(time.monotonic() - window_opened)
    assert 600 - elapsed - 1 <= int(response.headers["retry-after"]) <= 600
    assert page.inner_text("#login-error") == "Too many failed sign-in attempts. Try again in 10 minutes."


def test_sign_out_from_the_form(page, context, stack):
    sign_in(page, stack, "bob")
    page.goto(f"{stack.url['issuer']}/logout/")
    assert "You are signed in as bob." in page.inner_text("main")
    submit(page)
    assert page.inner_text("#signed-out") == "You are signed out"
    assert not {"sso_access", "sso_refresh"} & {cookie["name"] for cookie in context.cookies()}
    page.goto(f"{stack.url['issuer']}/")
    assert page.locator("#home-username").count() == 0


def test_a_stale_form_is_refused_in_the_issuers_words(page, context, stack):
    page.goto(f"{stack.url['issuer']}/login/")
    context.clear_cookies()  # the CSRF cookie is gone, as after a long pause or a cleared browser
    page.fill("#id_username", "bob")
    page.fill("#id_password", DEMO_PASSWORD)
    assert submit(page).status == 403
    assert page.inner_text("#notice-title") == "This form could not be sent"
    assert page.get_attribute("link[rel=stylesheet]", "href").endswith("/sso.css")


# ---- staff-only pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "name"), [("/admin/", "Administration"), ("/inspect/", "the token inspector")])
def test_someone_not_staff_is_told_why_not_shown_the_form_again(page, stack, path, name):
    page.goto(f"{stack.url['issuer']}{path}")
    assert page.url.startswith(f"{stack.url['issuer']}/login/?next=")
    assert page.inner_text("#login-destination").startswith(f"To continue to {name}.")
    page.fill("#id_username", "bob")
    page.fill("#id_password", DEMO_PASSWORD)
    assert submit(page).status == 403
    assert page.inner_text("#notice-title") == f"No access to {name}"
    assert page.inner_text("#notice-who") == "Signed in as bob"
    assert "for staff accounts only" in page.inner_text("#notice-message")
    # Coming back later (a bookmark) gives the same answer, not an empty sign-in form.
    assert page.goto(f"{stack.url['issuer']}{path}").status == 403
    assert page.inner_text("#notice-title") == f"No access to {name}"


def test_sign_in_as_someone_else_from_a_refusal_leads_on_to_the_page(page, stack):
    sign_in(page, stack, "bob", next_url="/admin/")
    submit(page, "#notice-switch")
    submit(page)  # "Sign out everywhere"
    submit(page, "text=Sign in again")
    sign_in_form = page.url
    assert sign_in_form.startswith(f"{stack.url['issuer']}/login/?next=")
    page.fill("#id_username", "alice")
    page.fill("#id_password", DEMO_PASSWORD)
    submit(page)
    assert page.url == f"{stack.url['issuer']}/admin/"
    assert page.locator("#admin-inspector").count() == 1


# ---- the token inspector ------------------------------------------------------------------------------


def test_staff_reach_the_inspector_from_home_and_see_the_verdicts_apart(page, stack):
    sign_in(page, stack, "alice")
    submit(page, "#home-inspector")
    assert page.url == f"{stack.url['issuer']}/inspect/"

    page.fill("#id_token", stack.token("bob")["access"])
    submit(page, "input[type=submit]")
    verdict = page.locator("#verdict")
    assert verdict.get_attribute("class") == "module verdict-valid"
    assert page.inner_text("#verdict .verdict-icon") == "✓"
    assert "Verifies: a valid access token (a person, at relying apps)" in page.inner_text("#verdict h2")
    valid_colour = page.eval_on_selector("#verdict h2", "e => getComputedStyle(e).backgroundColor")

    page.fill("#id_token", "not.a.token")
    submit(page, "input[type=submit]")
    assert verdict.get_attribute("class") == "module verdict-invalid"
    assert page.inner_text("#verdict .verdict-icon") == "✗"
    assert "Does not verify: " in page.inner_text("#verdict h2")
    invalid_colour = page.eval_on_selector("#verdict h2", "e => getComputedStyle(e).backgroundColor")
    assert valid_colour != invalid_colour


# ---- password reset, the whole way --------------------------------------------------------------------


def test_reset_a_password_from_the_emailed_link_then_sign_in_with_it(page, stack):
    token_seen_in: list[str] = []
    posts: list = []

    def watch(request) -> None:
        if request.method == "POST":
            posts.append(request)
        if token and token in request.url + request.headers.get("referer", "") and request.url != link:
            token_seen_in.append(request.url)

    token = link = ""
    page.on("request", watch)
    page.goto(f"{stack.url['issuer']}/login/")
    submit(page, "text=Forgot your password?")
    page.fill("#id_email", "carol@example.com")
    submit(page)
    assert page.inner_text("h1") == "Check your email"
    (link,) = stack.emailed_reset_links()
    token = link.rstrip("/").rsplit("/", 1)[1]

    page.goto(link)
    assert page.url == f"{stack.url['issuer']}/password-reset/set/", "the token leaves the address bar"
    assert "For the account carol." in page.inner_text("main")
    page.fill("#id_new_password1", NEW_PASSWORD)
    page.fill("#id_new_password2", NEW_PASSWORD + " typo")
    assert submit(page).status == 200
    assert "The two password fields didn’t match." in page.inner_text(".errorlist")
    page.fill("#id_new_password1", NEW_PASSWORD)
    page.fill("#id_new_password2", NEW_PASSWORD)
    submit(page)
    assert page.inner_text("h1") == "Password changed"

    submit(page, "#sign-in-again")
    page.fill("#id_username", "carol")
    page.fill("#id_password", NEW_PASSWORD)
    submit(page)
    assert page.inner_text("#home-username") == "carol"

    assert page.goto(link).status == 400
    assert page.inner_text("h1") == "This link cannot be used"
    assert page.locator("#back-to-sign-in").count() == 1

    # The email, the mismatched pair, the new password, the sign-in: each with the issuer's Origin, never null.
    assert [post.headers.get("origin") for post in posts] == [stack.url["issuer"]] * 4
    assert token_seen_in == [], "the token is in no other URL and no Referer"


def test_the_reset_pages_lead_back_to_sign_in(page, stack):
    page.goto(f"{stack.url['issuer']}/password-reset/")
    assert page.get_attribute("link[rel=stylesheet]", "href").endswith("/sso.css"), "the issuer's own card"
    submit(page, "#back-to-sign-in")
    assert page.url == f"{stack.url['issuer']}/login/"


# ---- the icon -----------------------------------------------------------------------------------------


def test_no_page_asks_for_a_missing_icon(page, stack):
    # Headless Chromium fetches no icons itself, so each page's icon link is followed here.
    missing: list[str] = []
    page.on("response", lambda response: missing.append(response.url) if response.status == 404 else None)
    sign_in(page, stack, "alice")
    for path in ("/", "/login/", "/logout/", "/password-reset/", "/admin/", "/admin/auth/user/", "/inspect/"):
        page.goto(f"{stack.url['issuer']}{path}")
        icon = requests.get(stack.internal["issuer"] + page.get_attribute("link[rel=icon]", "href"), timeout=10)
        assert icon.ok and icon.headers["content-type"] == "image/svg+xml", path
    favicon = requests.get(f"{stack.internal['issuer']}/favicon.ico", timeout=10)
    assert favicon.ok and favicon.headers["content-type"] == "image/svg+xml"
    assert missing == []


# ---- the admin at 1280 px -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/auth/user/", "/admin/issuer/ssosession/", "/admin/issuer/auditevent/"])
def test_the_admin_lists_fit_a_1280px_screen(page, stack, path):
    page.set_viewport_size({"width": 1280, "height": 800})
    stack.token("bob")  # a sign-in, so every list has rows
    sign_in(page, stack, "alice")
    page.goto(f"{stack.url['issuer']}{path}")
    # The admin scrolls a table wider than its column (beside the filters) inside `.results`.
    widths = page.eval_on_selector("#changelist .results", "e => [e.scrollWidth, e.clientWidth]")
    assert widths[0] <= widths[1], "every column is on screen, none scrolled out of sight"
    if path == "/admin/auth/user/":
        last_login = page.locator("#result_list tr", has_text="bob").locator("td.field-last_login").inner_text()
        assert last_login not in ("", "-"), "the sign-in is the user's last login"
