"""System checks: refuse to start an issuer that cannot sign safely."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from webguard.deployment import production_errors, secret_is_weak


# Not deploy-only: `check`, `migrate` and gunicorn's start (gunicorn.conf.py) all refuse on these.
@register(Tags.security)
def check_issuer_configuration(app_configs, **kwargs) -> list[Error]:
    errors = []
    issuer_url = settings.SSO_ISSUER_URL
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


@register(Tags.security)
def check_issuer_production(app_configs, **kwargs) -> list[Error]:
    """Refuse a production start (HTTPS origins) with a weak secret, a wildcard origin or host, or mixed
    schemes; DEBUG is issuer.E003 above."""
    return production_errors("issuer", include_debug=False)


@register(Tags.security)
def check_issuer_secret_key(app_configs, **kwargs) -> list[Warning]:
    """Refresh and reset tokens are HMAC-signed with keys derived from SECRET_KEY: with the published
    development value anyone can sign one (end a session whose `sid` they know, trip reuse detection). Over
    HTTPS that is issuer.E005; here it is said wherever the issuer runs with it, plain HTTP included."""
    if settings.HTTPS or not secret_is_weak(settings.SECRET_KEY):
        return []
    return [
        Warning(
            "DJANGO_SECRET_KEY is the development default or too weak: anyone can sign this issuer's refresh "
            "and password-reset tokens.",
            hint="Set DJANGO_SECRET_KEY to at least 50 random characters for anything but local development, "
            "e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
            id="issuer.W002",
        )
    ]


@register()
def check_browser_cookie_domain(app_configs, **kwargs) -> list[Warning]:
    """The access cookie must reach every site, or a relying app sends each browser back to the issuer for a
    cookie it can never receive."""
    hosts = sorted({urlsplit(origin).hostname or "" for origin in settings.SITE_ORIGINS})
    domain = (settings.SSO_COOKIE_DOMAIN or "").lstrip(".").lower()
    if domain:
        unreachable = [host for host in hosts if host != domain and not host.endswith("." + domain)]
    else:
        unreachable = hosts if len(hosts) > 1 else []
    if not unreachable:
        return []
    return [
        Warning(
            f"The browser access cookie would not reach {', '.join(unreachable)}.",
            hint="Set SSO_COOKIE_DOMAIN to the sites' common parent domain (e.g. .example.com), or serve every "
            "site on one host name (localhost in development).",
            id="issuer.W001",
        )
    ]
