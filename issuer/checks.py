"""System checks: refuse to start an issuer that cannot sign safely."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def check_issuer_configuration(app_configs, **kwargs) -> list[Error]:
    errors = []
    issuer_url = settings.SSO_ISSUER_URL
    if settings.SIMPLE_JWT.get("ALGORITHM") != "RS256":
        errors.append(
            Error(
                "Access tokens must be signed with RS256.",
                hint="Set SIMPLE_JWT['ALGORITHM'] = 'RS256'.",
                id="issuer.E001",
            )
        )
    if (
        settings.HTTPS
        and settings.SSO_ISSUER["KEY_PASSPHRASE"] == settings.SECRET_KEY
        and not settings.SSO_ISSUER["SIGNING_KEY_FILE"]
    ):
        errors.append(
            Error(
                "Private keys in the database are encrypted with SECRET_KEY.",
                hint="Set SSO_KEY_PASSPHRASE, or supply the key as a file with SSO_SIGNING_KEY_FILE.",
                id="issuer.E002",
            )
        )
    if settings.HTTPS and settings.DEBUG:
        errors.append(
            Error("DEBUG is on in a deployment served over HTTPS.", hint="Unset DJANGO_DEBUG.", id="issuer.E003")
        )
    if issuer_url.endswith("/") or "?" in issuer_url or "#" in issuer_url:
        errors.append(Error("SSO_ISSUER_URL must be an origin or path without a trailing slash.", id="issuer.E004"))
    return errors
