"""The production profile: the same code under production environment variables. `check --deploy` is clean
for every site; a misconfiguration stops `check`, and stops gunicorn before it serves; a production issuer
behind a TLS proxy redirects to HTTPS, sends HSTS and Secure cookies, and serves collected static files;
the access log never holds a token or a query string."""

import json
import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest
import requests

from tests.servers import GUNICORN, PYTHON, ROOT, free_port, stop_process, wait_for_port

# Every subprocess here gets an environment of its own (clean_environ drops DATABASE_URL and REDIS_URL), so
# scripts/run_tests.py's run on PostgreSQL and Redis would run exactly these again.
pytestmark = pytest.mark.storage_independent

SITES = ("issuer", "orders", "products")
SECRET_KEY = secrets.token_urlsafe(50)
PRODUCTION = {
    "SSO_ISSUER_URL": "https://sso.example.com",
    "ORDERS_URL": "https://orders.example.com",
    "PRODUCTS_URL": "https://products.example.com",
    "SSO_COOKIE_DOMAIN": ".example.com",
    "DJANGO_SECRET_KEY": SECRET_KEY,
    "SSO_KEY_PASSPHRASE": secrets.token_urlsafe(32),
    "DATABASE_URL": "postgresql://sso@db.internal:5432/sso",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "DJANGO_BEHIND_PROXY": "true",
    "SSO_TRUSTED_PROXY_COUNT": "1",
    "ORDERS_SERVICE_CLIENT_SECRET": secrets.token_urlsafe(32),
}


def clean_environ(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """This process's environment without any deployment variable, plus `overrides`."""
    deployment = ("DJANGO_", "SSO_", "DATABASE_URL", "REDIS_URL", "CACHE_KEY_PREFIX", "GUNICORN_")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(deployment) and not k.endswith(("_DATABASE_URL", "_SECRET", "_URL"))
    }
    return {**env, "SSO_DATA_DIR": str(tmp_path), **overrides}


def manage(site: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args, f"--settings=settings.{site}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("site", SITES)
def test_check_deploy_is_clean_under_production_variables(tmp_path, site):
    result = manage(site, clean_environ(tmp_path, **PRODUCTION), "check", "--deploy")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output


@pytest.mark.parametrize(
    ("site", "change", "expected"),
    [
        ("issuer", {"DJANGO_DEBUG": "true"}, "issuer.E003"),
        ("orders", {"DJANGO_DEBUG": "true"}, "webguard.E008"),
        ("products", {"DJANGO_SECRET_KEY": "too-short-for-production"}, "webguard.E005"),
        ("issuer", {"DJANGO_EXTRA_HOSTS": "*"}, "issuer.E006"),
        ("orders", {"DJANGO_EXTRA_HOSTS": ".example.com"}, "webguard.E006"),
        ("issuer", {"SSO_KEY_PASSPHRASE": ""}, "issuer.E002"),
        ("products", {"ORDERS_URL": "http://orders.example.com"}, "webguard.E007"),
    ],
)
def test_a_production_misconfiguration_fails_the_checks(tmp_path, site, change, expected):
    # Not only `check --deploy`: plain `check`, which `migrate` and gunicorn's start also run, refuses too.
    result = manage(site, clean_environ(tmp_path, **{**PRODUCTION, **change}), "check")
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr


def test_demo_seeding_is_refused_in_production(tmp_path):
    embedded = {"DATABASE_URL": f"sqlite:///{tmp_path / 'issuer.sqlite3'}", "REDIS_URL": ""}
    env = clean_environ(tmp_path, **{**PRODUCTION, **embedded})
    assert manage("issuer", env, "migrate", "--verbosity=0").returncode == 0
    result = manage("issuer", env, "seed_demo")
    assert result.returncode != 0
    assert "seed_demo is for development" in result.stderr


def test_a_production_start_without_a_secret_key_fails_fast(tmp_path):
    env = clean_environ(tmp_path, **PRODUCTION)
    del env["DJANGO_SECRET_KEY"]
    result = manage("orders", env, "check")
    assert result.returncode != 0
    assert "Set the DJANGO_SECRET_KEY environment variable" in result.stderr


def test_gunicorn_refuses_to_serve_a_misconfigured_production_site(tmp_path):
    env = clean_environ(tmp_path, **PRODUCTION, DJANGO_DEBUG="true", DJANGO_SETTINGS_MODULE="settings.orders")
    result = subprocess.run(
        [GUNICORN, "settings.wsgi", "--bind", f"127.0.0.1:{free_port()}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "webguard.E008" in result.stderr


def start_gunicorn(site: str, env: dict[str, str], log_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [GUNICORN, "settings.wsgi", "--workers", "1", "--threads", "2"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": f"settings.{site}", "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=open(log_dir / f"{site}-{port}.log", "ab"),  # noqa: SIM115  (the process owns it)
    )
    wait_for_port(port, process)
    return process, f"http://127.0.0.1:{port}"


def test_the_access_log_holds_no_token_and_no_query_string(tmp_path):
    access_log = tmp_path / "access.log"
    env = clean_environ(tmp_path, GUNICORN_ACCESS_LOG=str(access_log))
    process, url = start_gunicorn("products", env, tmp_path)
    secret = "s3cr3t-token-value"
    try:
        response = requests.get(
            f"{url}/api/products/?access_token={secret}&next=/x",
            headers={
                "Authorization": "Basic Ym9iOnMzY3IzdC10b2tlbi12YWx1ZQ==",  # bob:<secret>
                "Referer": f"https://evil.example/?token={secret}",
                "Accept": "application/json",
            },
            timeout=10,
        )
        assert response.status_code == 401
    finally:
        stop_process(process)
    logged = access_log.read_text()
    assert '"GET /api/products/ HTTP/1.1" 401' in logged, logged
    for leak in (secret, "access_token", "Ym9i", "bob", "evil.example"):
        assert leak not in logged, leak


@pytest.fixture(scope="module")
def production_issuer(tmp_path_factory):
    """The issuer under production variables behind a (simulated) TLS proxy, on an embedded database, with
    its static files collected as a deployment would."""
    tmp = tmp_path_factory.mktemp("production-issuer")
    embedded = {"DATABASE_URL": f"sqlite:///{tmp / 'issuer.sqlite3'}", "REDIS_URL": ""}
    env = clean_environ(tmp, **{**PRODUCTION, **embedded, "DJANGO_STATIC_ROOT": str(tmp / "static")})
    for command in (("migrate", "--verbosity=0"), ("collectstatic", "--noinput", "--verbosity=0")):
        result = manage("issuer", env, *command)
        assert result.returncode == 0, result.stderr
    process, url = start_gunicorn("issuer", env, tmp)
    try:
        yield url, tmp / "static"
    finally:
        stop_process(process)


def get(url: str, path: str, *, https: bool = True, host: str = "sso.example.com") -> requests.Response:
    headers = {"Host": host, "X-Forwarded-For": "192.0.2.10"}
    if https:
        headers["X-Forwarded-Proto"] = "https"
    return requests.get(f"{url}{path}", headers=headers, allow_redirects=False, timeout=10)


def test_production_redirects_plain_http_to_https(production_issuer):
    url, _static = production_issuer
    response = get(url, "/.well-known/openid-configuration?x=1", https=False)
    assert response.status_code == 301
    assert response.headers["Location"] == "https://sso.example.com/.well-known/openid-configuration?x=1"


def test_production_sends_hsts_and_secure_cookies(production_issuer):
    url, _static = production_issuer
    discovery = get(url, "/.well-known/openid-configuration")
    assert discovery.status_code == 200
    assert discovery.json()["issuer"] == "https://sso.example.com"
    assert discovery.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    login = get(url, "/login/")
    assert login.status_code == 200
    cookies = login.headers["Set-Cookie"]
    assert "csrftoken=" in cookies
    assert "Secure" in cookies and "SameSite=Lax" in cookies


def test_production_refuses_a_foreign_host(production_issuer):
    url, _static = production_issuer
    assert get(url, "/.well-known/openid-configuration", host="evil.example").status_code == 400


def test_production_serves_collected_static_files_with_far_future_caching(production_issuer):
    url, static = production_issuer
    manifest = json.loads((static / "staticfiles.json").read_text())["paths"]
    hashed = manifest["admin/css/base.css"]
    assert hashed != "admin/css/base.css", "collectstatic names files by content hash"
    response = get(url, f"/static/{hashed}")
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Pages link the hashed names, so a new deployment's files are never served from a stale cache.
    linked = re.findall(r'/static/([^"]+)"', get(url, "/login/").text)
    assert linked and all(path in manifest.values() for path in linked), linked


def variables_read() -> set[str]:
    """Every environment variable the settings and the gunicorn configuration read by name."""
    pattern = re.compile(r'env(?:\.\w+|_required)\(\s*"([A-Z][A-Z0-9_]+)"')
    sources = [*(ROOT / "settings").glob("*.py"), ROOT / "gunicorn.conf.py"]
    return {name for path in sources for name in pattern.findall(path.read_text())}


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line))


def test_env_example_lists_every_variable_the_settings_read():
    assert variables_read(), "the pattern still finds the settings' variables"
    missing = variables_read() - set(env_example())
    assert not missing, f"add to .env.example: {sorted(missing)}"


@pytest.mark.parametrize("site", SITES)
def test_a_copy_of_env_example_is_a_working_development_configuration(tmp_path, site):
    """`NAME=` in a .env copied from the example means the default, not an empty value."""
    result = manage(site, clean_environ(tmp_path, **{**env_example(), "SSO_DATA_DIR": str(tmp_path)}), "check")
    assert result.returncode == 0, result.stderr


def test_the_access_log_masks_password_reset_tokens():
    import runpy
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    logger = conf["AccessLogger"](Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/password-reset/eyJhbGciOi.secret.sig/",
        "PATH_INFO": "/password-reset/eyJhbGciOi.secret.sig/",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    atoms = logger.atoms(
        SimpleNamespace(status="302 Found", sent=0, headers=[]), {}, environ, timedelta(milliseconds=3)
    )
    assert atoms["U"] == "/password-reset/[token]/" and "secret" not in atoms["r"]
    environ.update(RAW_URI="/password-reset/sent/", PATH_INFO="/password-reset/sent/")
    assert (
        logger.atoms(SimpleNamespace(status="200 OK", sent=0, headers=[]), {}, environ, timedelta(0))["U"]
        == "/password-reset/sent/"
    )
