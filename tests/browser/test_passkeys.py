"""Passkeys in real Chromium with its virtual authenticator (CDP WebAuthn domain: ctap2, internal transport,
resident keys, user verification): enrol one on the account page, sign out and sign in with it alone; use it
as the second step after the password; a cloned authenticator (its counter set back) refused; and on the same
account page an authenticator app added from its QR code's key and recovery codes shown once, and a long list
of sessions shown as its newest, the rest counted, one of them ended from its form.

WebAuthn needs a secure context: this module's Chromium treats the stack's plain-http issuer origin as secure
(--unsafely-treat-insecure-origin-as-secure), which the stack's port makes known only once it runs."""

import os
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from tests.servers import DEMO_PASSWORD, Stack

from .conftest import CHROMIUM_ARGS, chromium_path, new_context

pytestmark = pytest.mark.browser

VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


@pytest.fixture(scope="module")
def secure_chromium(chromium, stack: Stack) -> Iterator:
    args = [*CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={stack.url['issuer']}"]
    browser = chromium.browser_type.launch(executable_path=chromium_path(), args=args, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def context(secure_chromium):
    context = new_context(secure_chromium)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def authenticator(context, page):
    """The virtual authenticator, attached to this page: (the CDP session, its id)."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
    return cdp, added["authenticatorId"]


def submit(page, selector: str = "button[type=submit]"):
    with page.expect_navigation() as navigation:
        page.click(selector)
    return navigation.value


def sign_in_with_password(page, stack: Stack, username: str) -> None:
    page.goto(f"{stack.url['issuer']}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    submit(page, "form[action='/login/'] button[type=submit]")


def enrol_passkey(page, stack: Stack, username: str, name: str) -> None:
    sign_in_with_password(page, stack, username)
    page.goto(f"{stack.url['issuer']}/account/")
    page.fill("#passkey-name", name)
    with page.expect_navigation():
        page.click("#passkey-register")  # the page reloads once the passkey is kept
    assert page.locator("#passkey-list .passkey-name").all_inner_texts() == [name]


def sign_out(page, stack: Stack) -> None:
    page.goto(f"{stack.url['issuer']}/logout/")
    submit(page)
    page.goto(f"{stack.url['issuer']}/")
    assert page.locator("#home-username").count() == 0


def sign_in_with_passkey(page, stack: Stack):
    page.goto(f"{stack.url['issuer']}/login/")
    page.click("#passkey-sign-in")


def test_enrol_a_passkey_sign_out_and_sign_in_without_a_password(page, stack, authenticator):
    cdp, authenticator_id = authenticator
    enrol_passkey(page, stack, "bob", "Virtual laptop")
    (credential,) = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert credential["isResidentCredential"] and credential["rpId"] == "sso.example.test"
    sign_out(page, stack)

    with page.expect_navigation(url=f"{stack.url['issuer']}/"):
        sign_in_with_passkey(page, stack)
    assert page.inner_text("#home-username") == "bob"


def test_a_passkey_as_the_second_step_after_the_password(page, stack, authenticator):
    enrol_passkey(page, stack, "alice", "Second step")
    sign_out(page, stack)

    target = f"{stack.url['orders']}/api/orders/"
    page.goto(f"{stack.url['issuer']}/login/?next={target}")
    page.fill("#id_username", "alice")
    page.fill("#id_password", DEMO_PASSWORD)
    submit(page, "form[action='/login/'] button[type=submit]")
    assert page.url.startswith(f"{stack.url['issuer']}/login/second-factor/"), "the password alone is not enough"
    with page.expect_navigation(url=target):
        page.click("#passkey-sign-in")
    assert page.inner_text("#sso-username") == "alice"


def test_a_cloned_authenticator_is_refused(page, stack, authenticator):
    cdp, authenticator_id = authenticator
    enrol_passkey(page, stack, "carol", "Soon cloned")
    sign_out(page, stack)
    with page.expect_navigation(url=f"{stack.url['issuer']}/"):
        sign_in_with_passkey(page, stack)
    sign_out(page, stack)

    # The same key in an authenticator whose counter starts again, as a copy of the original's would.
    (credential,) = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert credential["signCount"] >= 2
    cdp.send("WebAuthn.clearCredentials", {"authenticatorId": authenticator_id})
    cdp.send(
        "WebAuthn.addCredential", {"authenticatorId": authenticator_id, "credential": {**credential, "signCount": 0}}
    )

    sign_in_with_passkey(page, stack)
    error = page.locator("#passkey-error")
    error.wait_for(state="visible")
    assert error.inner_text() == "This passkey was not accepted."
    audited = stack.manage(
        "issuer",
        "shell",
        "-c",
        "from issuer.models import AuditEvent; print(AuditEvent.objects.filter(kind='mfa_failed', user__username='carol')"
        ".values_list('detail', flat=True).first())",
    )
    assert "possible cloned authenticator" in audited
    page.goto(f"{stack.url['issuer']}/")
    assert page.locator("#home-username").count() == 0


def test_add_an_authenticator_app_and_recovery_codes_on_the_account_page(page, stack):
    stack.manage(
        "issuer",
        "shell",
        "-c",
        f"from django.contrib.auth import get_user_model; get_user_model().objects.create_user('dave', 'dave@example.com', '{DEMO_PASSWORD}')",
    )
    sign_in_with_password(page, stack, "dave")
    page.goto(f"{stack.url['issuer']}/account/")
    page.fill("#id_totp_name", "Phone")
    submit(page, "#totp-add")
    assert page.locator("#totp-enrolment svg").count() == 1, "the QR code, made on the issuer"
    secret = page.inner_text("#totp-secret")
    page.fill("#id_totp_code", pyotp.TOTP(secret).now())
    submit(page, "#totp-confirm")
    assert page.locator("#totp-list .totp-name").all_inner_texts() == ["Phone"]
    assert page.locator("#totp-secret").count() == 0

    submit(page, "#recovery-generate")
    assert len(page.locator("#recovery-codes li").all_inner_texts()) == 10
    page.goto(f"{stack.url['issuer']}/account/")
    assert page.locator("#recovery-codes").count() == 0, "shown once"
    assert page.inner_text("#recovery-codes-left") == "10 of your recovery codes are unused."


def test_the_account_page_lists_the_newest_sessions_and_ends_one(page, stack):
    """A script that signs in on every run leaves a session each time: the page lists the 50 newest, counts
    the rest, and each listed one can still be ended from its own form."""
    stack.manage(
        "issuer",
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from issuer.services.sessions import session_start\n"
        f"erin = get_user_model().objects.create_user('erin', 'erin@example.com', '{DEMO_PASSWORD}')\n"
        "for _ in range(51): session_start(user=erin)",
    )
    sign_in_with_password(page, stack, "erin")
    page.goto(f"{stack.url['issuer']}/account/")
    sessions = page.locator("#session-list li.session")
    assert sessions.count() == 50
    assert "this browser" in sessions.first.inner_text(), "the newest first"
    assert page.inner_text("#sessions-not-shown").startswith("And 2 older sessions, not listed here.")
    submit(page, "#session-list li.session:nth-child(2) button[type=submit]")
    assert page.locator("#session-list li.session").count() == 50
    assert page.inner_text("#sessions-not-shown").startswith("And 1 older session, not listed here.")
    if shots := os.environ.get("SSO_SCREENSHOT_DIR"):  # set it to look at the page (kept out of the repository)
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{shots}/account-sessions.png", full_page=False)
        page.locator("#sessions-not-shown").scroll_into_view_if_needed()
        page.screenshot(path=f"{shots}/account-sessions-not-shown.png")
