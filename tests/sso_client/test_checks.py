"""Every configuration check of sso_client fires on its mistake, with a hint (E003's cases are in
tests/security/test_system_checks.py; the production rules of this repository's sites are webguard's)."""

import pytest

from sso_client.checks import DJANGO_AUTH_MIDDLEWARE, MIDDLEWARE, check_sso_client


def ids(settings) -> set[str]:
    errors = check_sso_client(None)
    assert all(error.hint for error in errors)
    return {error.id for error in errors}


def test_the_relying_apps_configuration_passes(settings):
    assert ids(settings) == set()


@pytest.mark.parametrize(
    "issuer",
    [
        None,
        "sso.example.com",
        "ftp://sso.example.com",
        "https://",
        "https://sso.example.com/.well-known/openid-configuration",
        "https://sso.example.com/",
        "https://sso.example.com?tenant=1",
    ],
)
def test_a_wrong_issuer_url_is_e001(settings, issuer):
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "ISSUER": issuer}
    assert "sso_client.E001" in ids(settings)


def test_a_missing_audience_is_e002(settings):
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "AUDIENCE": None}
    assert ids(settings) == {"sso_client.E002"}


def test_an_http_issuer_for_a_site_served_over_https_is_e004(settings):
    settings.SESSION_COOKIE_SECURE = True
    assert ids(settings) == {"sso_client.E004"}
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "ISSUER": "https://sso.example.com"}
    assert ids(settings) == set()


def test_the_middleware_before_djangos_authentication_middleware_is_e010(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE, DJANGO_AUTH_MIDDLEWARE]
    assert ids(settings) == {"sso_client.E010"}
    settings.MIDDLEWARE = [*settings.MIDDLEWARE[:-2], DJANGO_AUTH_MIDDLEWARE, MIDDLEWARE]
    assert ids(settings) == set()


def test_a_user_backend_that_does_not_import_is_e011(settings):
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "USER_BACKEND": "sso_client.backends.NoSuchBackend"}
    assert ids(settings) == {"sso_client.E011"}


def test_local_users_without_django_contrib_auth_is_e012(settings):
    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "USER_BACKEND": "sso_client.backends.LocalUserBackend"}
    assert ids(settings) == {"sso_client.E012"}


def test_the_checks_run_under_manage_py_check(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.SSO_CLIENT = {**settings.SSO_CLIENT, "AUDIENCE": ""}
    with pytest.raises(SystemCheckError, match="sso_client.E002"):
        call_command("check")
