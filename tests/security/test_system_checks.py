"""The system checks that refuse an unsafe production configuration, rule by rule (the subprocess tests in
test_production_profile.py show the same refusals from real environment variables)."""

import secrets

import pytest

from issuer.checks import check_issuer_configuration, check_issuer_production
from sso_client.checks import check_sso_client
from webguard.checks import check_relying_production

ORIGINS = ["https://sso.example.com", "https://orders.example.com", "https://products.example.com"]


def ids(errors) -> set[str]:
    return {error.id for error in errors}


@pytest.fixture
def production(settings):
    settings.HTTPS = True
    settings.DEBUG = False
    settings.SITE_ORIGINS = list(ORIGINS)
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    settings.ALLOWED_HOSTS = ["sso.example.com", "orders.example.com", "products.example.com"]
    settings.CORS_ALLOWED_ORIGINS = list(ORIGINS)
    settings.CORS_ALLOW_ALL_ORIGINS = False
    settings.CORS_ALLOWED_ORIGIN_REGEXES = []
    settings.CSRF_TRUSTED_ORIGINS = ["https://sso.example.com"]
    settings.SSO_CLIENT = {"ISSUER": "https://sso.example.com", "AUDIENCE": "orders", "ALGORITHMS": ["RS256"]}
    return settings


def test_a_sound_production_configuration_passes(production):
    assert check_issuer_production(None) == []
    assert check_relying_production(None) == []
    assert check_sso_client(None) == []


def test_the_production_rules_stay_quiet_in_development(settings):
    settings.HTTPS = False
    settings.DEBUG = True
    settings.SECRET_KEY = "dev-only-insecure"
    assert check_issuer_production(None) == []
    assert check_relying_production(None) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CORS_ALLOW_ALL_ORIGINS", True),
        ("CORS_ALLOWED_ORIGINS", ["*"]),
        ("CORS_ALLOWED_ORIGINS", ["null"]),
        ("CORS_ALLOWED_ORIGINS", ["https://*.example.com"]),
        ("CORS_ALLOWED_ORIGIN_REGEXES", [r"^https://.*\.example\.com$"]),
        ("CSRF_TRUSTED_ORIGINS", ["https://*.example.com"]),
        ("ALLOWED_HOSTS", ["*"]),
        ("ALLOWED_HOSTS", [".example.com"]),
    ],
)
def test_a_wildcard_origin_or_host_is_refused(production, name, value):
    setattr(production, name, value)
    assert "issuer.E006" in ids(check_issuer_production(None))
    assert "webguard.E006" in ids(check_relying_production(None))


@pytest.mark.parametrize(
    "secret", ["dev-only-insecure-secret-key-never-use-over-https", "django-insecure-" + "x" * 50, "short", "ab" * 40]
)
def test_a_missing_or_weak_secret_is_refused(production, secret):
    production.SECRET_KEY = secret
    assert "issuer.E005" in ids(check_issuer_production(None))
    assert "webguard.E005" in ids(check_relying_production(None))


def test_debug_is_refused(production):
    production.DEBUG = True
    assert "issuer.E003" in ids(check_issuer_configuration(None))
    assert "webguard.E008" in ids(check_relying_production(None))


def test_mixed_schemes_are_refused_even_though_they_switch_production_off(production):
    production.HTTPS = False
    production.SITE_ORIGINS = [ORIGINS[0], "http://orders.example.com", ORIGINS[2]]
    assert "issuer.E007" in ids(check_issuer_production(None))
    assert "webguard.E007" in ids(check_relying_production(None))


@pytest.mark.parametrize("algorithms", [["HS256"], ["RS256", "HS512"], ["none"], ["RS256", "none"], []])
def test_a_relying_app_refuses_symmetric_or_no_algorithms(production, algorithms):
    production.SSO_CLIENT = {**production.SSO_CLIENT, "ALGORITHMS": algorithms}
    assert "sso_client.E003" in ids(check_sso_client(None))


def test_the_development_secret_is_warned_about_over_plain_http_too(settings):
    """Refresh tokens are signed with a key derived from it: with the published value anyone can forge one."""
    from issuer.checks import check_issuer_secret_key

    settings.HTTPS = False
    settings.SECRET_KEY = "dev-only-insecure-secret-key-never-use-over-https"
    assert ids(check_issuer_secret_key(None)) == {"issuer.W002"}
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    assert check_issuer_secret_key(None) == []


def test_the_development_secret_over_https_is_the_error_not_the_warning(production):
    from issuer.checks import check_issuer_secret_key

    production.SECRET_KEY = "dev-only-insecure-secret-key-never-use-over-https"
    assert check_issuer_secret_key(None) == []
    assert "issuer.E005" in ids(check_issuer_production(None))
