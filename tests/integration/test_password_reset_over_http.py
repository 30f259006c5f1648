"""The newcomer's path across real HTTP: reset bob's password from the emailed link once (the link fails the
second time), see the reset token refused as an access token at both apps, and inspect tokens from the
command line."""

import re
import subprocess

import pytest
import requests

from tests.servers import DEMO_PASSWORD, PYTHON, ROOT, running_stack

NEW_PASSWORD = "a brand new passphrase 42"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("reset")
    mail = {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(data_dir / "mail"),
    }
    with running_stack(data_dir, extra_env=mail) as stack:
        yield stack


def csrf_token(page: requests.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def inspect_token(stack, token: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", "inspect_token", "-", "--settings=settings.issuer"],
        input=token,
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
    )


def test_reset_bobs_password_from_the_emailed_link_once(stack):
    issuer = stack.internal["issuer"]
    browser = requests.Session()
    form = browser.get(f"{issuer}/password-reset/", timeout=10)
    sent = browser.post(
        f"{issuer}/password-reset/",
        data={"email": "bob@example.com", "csrfmiddlewaretoken": csrf_token(form)},
        timeout=10,
    )
    assert sent.status_code == 200 and "If an account uses that address" in sent.text
    (link,) = stack.emailed_reset_links()
    assert link.startswith(stack.url["issuer"] + "/password-reset/")
    token = link.rstrip("/").rsplit("/", 1)[1]
    link = link.replace(stack.url["issuer"], issuer)

    set_form = browser.get(link, timeout=10)
    assert set_form.status_code == 200 and set_form.url == f"{issuer}/password-reset/set/"
    done = browser.post(
        set_form.url,
        data={
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "csrfmiddlewaretoken": csrf_token(set_form),
        },
        timeout=10,
    )
    assert done.status_code == 200 and "Password changed" in done.text

    sign_in = requests.post(f"{issuer}/api/token/", json={"username": "bob", "password": NEW_PASSWORD}, timeout=10)
    assert sign_in.status_code == 200
    old = requests.post(f"{issuer}/api/token/", json={"username": "bob", "password": DEMO_PASSWORD}, timeout=10)
    assert old.status_code == 401

    second = requests.Session().get(link, timeout=10)
    assert second.status_code == 400 and "This link cannot be used" in second.text

    # A purpose-bound token is never an access token, at either app.
    for site in ("orders", "products"):
        refused = requests.get(
            f"{stack.internal[site]}/api/{site}/", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert refused.status_code == 401

    # ... and the inspector says why the link no longer works.
    used = inspect_token(stack, token)
    assert used.returncode == 1
    assert "token_type  password_reset" in used.stdout
    assert "Does not verify: revoked: reset link already used" in used.stderr


def test_unknown_addresses_get_the_same_answer_and_no_mail(stack):
    issuer = stack.internal["issuer"]
    before = len(stack.emailed_reset_links(at_least=0))
    browser = requests.Session()
    form = browser.get(f"{issuer}/password-reset/", timeout=10)
    sent = browser.post(
        f"{issuer}/password-reset/",
        data={"email": "nobody@example.com", "csrfmiddlewaretoken": csrf_token(form)},
        timeout=10,
    )
    assert sent.status_code == 200 and "If an account uses that address" in sent.text
    assert len(stack.emailed_reset_links(at_least=0)) == before


def test_inspect_an_access_token_from_the_command_line(stack):
    access = stack.token("alice", audience="sso")["access"]  # a token the account API's logout takes
    result = inspect_token(stack, access)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Header\n")
    assert re.search(r"exp\s+\d+ \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, in \d+m", result.stdout)
    assert "Verifies: a valid access token" in result.stdout
    logout = requests.post(
        f"{stack.internal['issuer']}/api/logout/", headers={"Authorization": f"Bearer {access}"}, timeout=10
    )
    assert logout.status_code == 200
    revoked = inspect_token(stack, access)
    assert revoked.returncode == 1 and "Does not verify: revoked session: Logged out" in revoked.stderr
