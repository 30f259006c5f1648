"""Apache with Debian's mod_auth_openidc (a certified relying party) protecting a page, signing in through the
issuer in Chromium, and dropping its session when the issuer's back-channel logout reaches it. Apache runs in
the foreground with a configuration generated here, on 127.0.0.1, and the browser knows it as apache.example.test:
another site than the issuer's, so nothing but OpenID Connect carries the sign-on across."""

import contextlib
import json
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.servers import Stack, free_port, stop_process, wait_for_port

from .conftest import APACHE_HOST, register_client, sign_in_at_issuer, unavailable

pytestmark = pytest.mark.browser

APACHE = "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
LOADED = {
    "mpm_event_module": "mod_mpm_event.so",
    "authn_core_module": "mod_authn_core.so",
    "authz_core_module": "mod_authz_core.so",
    "authz_user_module": "mod_authz_user.so",
    "include_module": "mod_include.so",
    "auth_openidc_module": "mod_auth_openidc.so",
}
# An SSI page printing what mod_auth_openidc put in the request's environment from the ID token.
WHOAMI = '<!doctype html><title>Protected</title><p id="user"><!--#echo var="OIDC_CLAIM_preferred_username" --></p>\n'
REDIRECT_PATH = "/oidc/redirect"


@pytest.fixture(scope="module")
def apache() -> str:
    if not os.access(APACHE, os.X_OK):
        unavailable("Apache is not installed (apt-get install apache2)")
    if not (MODULES / LOADED["auth_openidc_module"]).exists():
        unavailable("mod_auth_openidc is not installed (apt-get install libapache2-mod-auth-openidc)")
    return APACHE


def apache_config(*, port: int, run_dir: Path, docroot: Path, issuer: Stack, registered: dict) -> str:
    modules = "\n".join(f"LoadModule {name} {MODULES / file}" for name, file in LOADED.items())
    # Started as root, Apache serves as another user (it refuses to serve as root); as anyone else, as itself.
    user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
    return f"""{modules}
ServerName {APACHE_HOST}
Listen 127.0.0.1:{port}
{user}DefaultRuntimeDir {run_dir}
PidFile {run_dir}/apache2.pid
ErrorLog {run_dir}/error.log
LogLevel warn auth_openidc:info
DocumentRoot {docroot}
<Directory {docroot}>
    Options +Includes
    Require all granted
</Directory>

OIDCProviderMetadataURL {issuer.url["issuer"]}/.well-known/openid-configuration
OIDCClientID {registered["client_id"]}
OIDCClientSecret {registered["client_secret"]}
OIDCRedirectURI {REDIRECT_PATH}
OIDCCryptoPassphrase {secrets.token_urlsafe(32)}
OIDCScope "openid profile email"
OIDCPKCEMethod S256
# Sessions live in Apache's own cache, so a logout token (naming the sid) can find and end one.
OIDCSessionType server-cache
OIDCCacheType shm
OIDCRemoteUserClaim preferred_username

<Location /private/>
    AuthType openid-connect
    Require valid-user
    ForceType text/html
    SetOutputFilter INCLUDES
</Location>
<Location {REDIRECT_PATH}>
    AuthType openid-connect
    Require valid-user
</Location>
"""


@contextlib.contextmanager
def apache_server(apache: str, issuer: Stack, registered: dict, *, port: int, run_dir: Path) -> Iterator[str]:
    """Apache in the foreground on 127.0.0.1:port; yields the site's public origin. Stopped by its pid."""
    # The served files must be readable by the user Apache serves as; the test's tmp dir is the test's only.
    with tempfile.TemporaryDirectory(prefix="oidc-apache-docroot-") as docroot:
        os.chmod(docroot, 0o755)
        (Path(docroot) / "private").mkdir(mode=0o755)
        (Path(docroot) / "private" / "whoami.shtml").write_text(WHOAMI)
        os.chmod(Path(docroot) / "private" / "whoami.shtml", 0o644)
        config = run_dir / "apache2.conf"
        config.write_text(
            apache_config(port=port, run_dir=run_dir, docroot=Path(docroot), issuer=issuer, registered=registered)
        )
        check = subprocess.run([apache, "-t", "-f", str(config)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        process = subprocess.Popen(
            [apache, "-f", str(config), "-DFOREGROUND"],
            stdout=subprocess.DEVNULL,
            stderr=open(run_dir / "stderr.log", "ab"),
        )
        try:
            wait_for_port(port, process)
            yield f"http://{APACHE_HOST}:{port}"
        finally:
            stop_process(process)


def apache_log(run_dir: Path) -> str:
    return "".join(path.read_text(errors="replace") for path in sorted(run_dir.glob("*.log")))


def backchannel_notices(stack: Stack, client_id: str) -> list[dict]:
    """The issuer's back-channel logout outbox for this client, once every notice in it is delivered or 5 s
    have passed (the issuer records a delivery just after the client has answered)."""
    code = (
        "import json\n"
        "from issuer.models import BackchannelLogout\n"
        f"notices = BackchannelLogout.objects.filter(client__client_id={client_id!r})\n"
        "print(json.dumps([{'delivered': n.delivered_at is not None, 'attempts': n.attempts,"
        " 'last_error': n.last_error} for n in notices]))"
    )
    deadline = time.monotonic() + 5
    while True:
        # The last line: Django's shell may first say what it imported.
        notices = json.loads(stack.manage("issuer", "shell", "-c", code).splitlines()[-1])
        if all(notice["delivered"] for notice in notices) or time.monotonic() > deadline:
            return notices
        time.sleep(0.2)


def test_apache_signs_in_through_the_issuer_and_a_back_channel_logout_ends_its_session(apache, page, issuer, tmp_path):
    port = free_port()
    origin = f"http://{APACHE_HOST}:{port}"
    registered = register_client(
        issuer,
        "Apache mod_auth_openidc",
        "--redirect-uri",
        f"{origin}{REDIRECT_PATH}",
        "--post-logout-redirect-uri",
        f"{origin}/",
        # The issuer reaches Apache on loopback (only the browser knows apache.example.test); mod_auth_openidc
        # takes a logout token on its redirect URI.
        "--backchannel-logout-uri",
        f"http://127.0.0.1:{port}{REDIRECT_PATH}?logout=backchannel",
    )
    protected = f"{origin}/private/whoami.shtml"
    issuer_netloc = urlsplit(issuer.url["issuer"]).netloc
    with apache_server(apache, issuer, registered, port=port, run_dir=tmp_path) as site:
        assert site == origin
        page.goto(protected)
        assert urlsplit(page.url).netloc == issuer_netloc, page.url
        sign_in_at_issuer(page, issuer, "bob")
        assert page.url == protected, f"{page.url}\n{apache_log(tmp_path)}"
        assert page.inner_text("#user") == "bob"

        # Apache's own session serves the page now, without a trip through the issuer.
        to_issuer: list = []
        page.on("request", lambda request: to_issuer.append(request.url) if issuer_netloc in request.url else None)
        page.goto(protected)
        assert page.inner_text("#user") == "bob"
        assert to_issuer == []

        # Sign out at the issuer's own page: the issuer ends bob's browser session and its client sessions,
        # and POSTs a logout token to Apache in the background. Apache drops the session: the next visit
        # is sent to the issuer again instead of being served.
        page.goto(f"{issuer.url['issuer']}/logout/")
        with page.expect_navigation():
            page.click("button[type=submit]")
        deadline = time.monotonic() + 15
        while True:
            page.goto(protected)
            if urlsplit(page.url).netloc == issuer_netloc or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert urlsplit(page.url).netloc == issuer_netloc, f"still served by Apache\n{apache_log(tmp_path)}"
        assert page.locator("#id_password").count() == 1

        # ... because the logout token reached it: mod_auth_openidc answered 200, which the issuer records just
        # after Apache has acted on it.
        notices = backchannel_notices(issuer, registered["client_id"])
        assert [notice["delivered"] for notice in notices] == [True], notices
