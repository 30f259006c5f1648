"""What no production deployment may run with, for every site: the issuer's and each relying app's system
checks report these under their own ids. A deployment is production when its origins are HTTPS."""

from django.conf import settings
from django.core.checks import Error

DEV_SECRET_PREFIXES = ("dev-only", "django-insecure")


def secret_is_weak(secret: str) -> bool:
    # Django's own bar for a secret key (security.W009), made an error: session, CSRF and refresh-token
    # signatures all derive from it.
    return not secret or secret.startswith(DEV_SECRET_PREFIXES) or len(secret) < 50 or len(set(secret)) < 5


def _wildcards() -> list[str]:
    """Settings that would trust any origin or host, by name."""
    found = []
    if getattr(settings, "CORS_ALLOW_ALL_ORIGINS", False):
        found.append("CORS_ALLOW_ALL_ORIGINS")
    if any(origin in ("*", "null") or "*" in origin for origin in getattr(settings, "CORS_ALLOWED_ORIGINS", [])):
        found.append("CORS_ALLOWED_ORIGINS")
    if getattr(settings, "CORS_ALLOWED_ORIGIN_REGEXES", []):
        found.append("CORS_ALLOWED_ORIGIN_REGEXES")
    if any("*" in origin for origin in settings.CSRF_TRUSTED_ORIGINS):
        found.append("CSRF_TRUSTED_ORIGINS")
    # "*" accepts any Host; a leading dot accepts every subdomain (DJANGO_EXTRA_HOSTS).
    if any(host == "*" or host.startswith(".") for host in settings.ALLOWED_HOSTS):
        found.append("ALLOWED_HOSTS")
    return found


def production_errors(app_label: str, *, include_debug: bool = True) -> list[Error]:
    """Errors for an unsafe production configuration, with ids `<app_label>.E005` to `.E008`."""
    origins = settings.SITE_ORIGINS
    https = [origin.startswith("https://") for origin in origins]
    errors = []
    if any(https) and not all(https):
        errors.append(
            Error(
                "Some site origins are HTTPS and some are not, so production protections are off.",
                hint="Make SSO_ISSUER_URL, ORDERS_URL and PRODUCTS_URL all https:// (HTTPS turns on secure "
                "cookies, HSTS and HTTPS redirects).",
                id=f"{app_label}.E007",
            )
        )
    if not settings.HTTPS:
        return errors
    if secret_is_weak(settings.SECRET_KEY):
        errors.append(
            Error(
                "DJANGO_SECRET_KEY is missing, a development value, or too weak for production.",
                hint="Set DJANGO_SECRET_KEY to at least 50 random characters, e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
                id=f"{app_label}.E005",
            )
        )
    wildcards = _wildcards()
    if wildcards:
        errors.append(
            Error(
                f"A wildcard trusts any origin or host: {', '.join(wildcards)}.",
                hint="List exact origins: they derive from SSO_ISSUER_URL, ORDERS_URL and PRODUCTS_URL; "
                "DJANGO_EXTRA_HOSTS takes exact host names only.",
                id=f"{app_label}.E006",
            )
        )
    if include_debug and settings.DEBUG:
        errors.append(
            Error("DEBUG is on in a deployment served over HTTPS.", hint="Unset DJANGO_DEBUG.", id=f"{app_label}.E008")
        )
    return errors
