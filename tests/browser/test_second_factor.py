"""Second factors in Chromium against the real stack: an authenticator app's code (computed from its secret
with pyotp) completes a sign-in and is refused when replayed; a recovery code works once; an app requiring
MFA refuses a password-only session and step-up brings the person back; /api/token/ cannot bypass it.

The authenticator apps are created in the stack's database with a manage.py shell command (the account page
that enrols them is the passkeys feature's), with a secret the test knows."""

import json
from urllib.parse import quote

import pyotp
import pytest
import requests

from tests.servers import DEMO_PASSWORD

pytestmark = pytest.mark.browser

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
DAVE_SECRET = "KRSXG5CTMVRXEZLUKN2XAZLSONUWK3TP"

SETUP = """
import json
from django.contrib.auth import get_user_model
from issuer.models import RelyingApp
from issuer.services import recovery_codes
users = get_user_model().objects
orders = RelyingApp.objects.get(audience="orders")
orders.mfa_required = True
orders.save()
for name in ("dave", "erin"):
    orders.users.add(users.create_user(name, password=%(password)r))
print(json.dumps(recovery_codes.recovery_codes_generate(user=users.get(username="bob"))))
"""

ENROL = """
from django.contrib.auth import get_user_model
from django.utils import timezone
from issuer.models import TOTPDevice
from issuer.services import totp
user = get_user_model().objects.get(username=%(username)r)
TOTPDevice.objects.create(user=user, name="Phone", secret_encrypted=totp.secret_encrypt(%(secret)r),
                          confirmed_at=timezone.now())
"""


@pytest.fixture(scope="module")
def bob_recovery_codes(stack) -> list[str]:
    output = stack.manage("issuer", "shell", "-c", SETUP % {"password": DEMO_PASSWORD})
    stack.manage("issuer", "shell", "-c", ENROL % {"username": "bob", "secret": SECRET})
    return json.loads(output.strip().splitlines()[-1])


def submit(page, selector: str = "button[type=submit]"):
    with page.expect_navigation() as navigation:
        page.click(selector)
    return navigation.value


def password_step(page, stack, username: str, next_url: str):
    page.goto(f"{stack.url['issuer']}/login/?next={quote(next_url, safe='')}")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    return submit(page)


@pytest.fixture(scope="module")
def bob_code(bob_recovery_codes) -> str:
    return pyotp.TOTP(SECRET).now()


def test_an_authenticator_code_completes_the_sign_in(context, stack, bob_code):
    page = context.new_page()
    orders_page = f"{stack.url['orders']}/api/orders/"
    password_step(page, stack, "bob", orders_page)
    assert page.url == f"{stack.url['issuer']}/login/second-factor/"
    assert not [cookie for cookie in context.cookies() if cookie["name"].endswith("sso_access")]
    page.fill("#id_code", bob_code)
    response = submit(page)
    assert page.url == orders_page and response.status == 200


def test_a_replayed_code_is_refused(context, stack, bob_code):
    page = context.new_page()
    password_step(page, stack, "bob", "/")
    page.fill("#id_code", bob_code)
    assert submit(page).status == 401
    assert "already used" in page.inner_text("#second-factor-error")


def test_a_recovery_code_works_once(chromium, stack, bob_recovery_codes):
    for expected in (302, 401):
        context = chromium.new_context()
        try:
            page = context.new_page()
            password_step(page, stack, "bob", "/")
            page.click("#use-recovery-code")
            page.fill("#id_code", bob_recovery_codes[0])
            response = submit(page)
            if expected == 302:
                assert page.url == f"{stack.url['issuer']}/" and response.status == 200
            else:
                assert response.status == 401 and "recovery code" in page.inner_text("#second-factor-error")
        finally:
            context.close()


def test_an_app_requiring_mfa_refuses_a_password_session_and_step_up_brings_the_person_back(
    context, stack, bob_recovery_codes
):
    page = context.new_page()
    password_step(page, stack, "dave", "/")  # no second factor yet: signed in with the password alone
    assert page.url == f"{stack.url['issuer']}/"
    stack.manage("issuer", "shell", "-c", ENROL % {"username": "dave", "secret": DAVE_SECRET})
    orders_page = f"{stack.url['orders']}/api/orders/"
    page.goto(orders_page)
    assert page.url.startswith(f"{stack.url['issuer']}/login/step-up/")
    assert "Orders" in page.inner_text("#step-up-reason")
    page.fill("#id_code", pyotp.TOTP(DAVE_SECRET).now())
    response = submit(page)
    assert page.url == orders_page and response.status == 200


def test_the_api_cannot_bypass_enforcement(stack, bob_recovery_codes):
    token_url = f"{stack.internal['issuer']}/api/token/"
    bob = requests.post(token_url, json={"username": "bob", "password": DEMO_PASSWORD}, timeout=10)
    assert bob.status_code == 401 and bob.json()["code"] == "mfa_required"
    narrowed = {"username": "erin", "password": DEMO_PASSWORD, "audience": "orders"}
    refused = requests.post(token_url, json=narrowed, timeout=10)
    assert refused.status_code == 403 and refused.json()["code"] == "mfa_required"
    default = requests.post(token_url, json={"username": "erin", "password": DEMO_PASSWORD}, timeout=10).json()
    orders = requests.get(
        f"{stack.internal['orders']}/api/orders/", headers={"Authorization": f"Bearer {default['access']}"}, timeout=10
    )
    assert orders.status_code == 401
