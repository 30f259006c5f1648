"""The production checks of this repository's relying sites (orders, products). They read this repository's
settings (SITE_ORIGINS, HTTPS), so they live here, not in the installable sso_client; the issuer runs the
same rules under its own ids (issuer/checks.py)."""

from django.core.checks import Error, Tags, register

from .deployment import production_errors


@register(Tags.security)
def check_relying_production(app_configs, **kwargs) -> list[Error]:
    """Refuse a production start (HTTPS origins) with a weak secret, a wildcard origin or host, mixed
    schemes, or DEBUG on."""
    return production_errors("webguard")
