"""System checks: refuse to start a relying app whose verification policy is unsafe or incomplete."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register

from webguard.deployment import production_errors

from .conf import sso_settings


@register(Tags.security)
def check_sso_client(app_configs, **kwargs) -> list[Error]:
    conf = sso_settings()
    errors = []
    issuer = conf["ISSUER"] or ""
    if urlsplit(issuer).scheme not in ("http", "https") or not urlsplit(issuer).hostname:
        errors.append(
            Error(
                "SSO_CLIENT['ISSUER'] must be the issuer's http(s) URL.",
                hint="Set SSO_ISSUER_URL.",
                id="sso_client.E001",
            )
        )
    if not conf["AUDIENCE"]:
        errors.append(
            Error(
                "SSO_CLIENT['AUDIENCE'] is not set.",
                hint="Set it to this app's audience in its settings module.",
                id="sso_client.E002",
            )
        )
    algorithms = list(conf["ALGORITHMS"])
    if not algorithms or any(not alg.startswith(("RS", "PS", "ES")) for alg in algorithms):
        errors.append(
            Error(
                "SSO_CLIENT['ALGORITHMS'] must list asymmetric algorithms only.",
                hint="A relying app verifies with a public key; HS* or 'none' would let anyone holding that key sign. Use ['RS256'].",
                id="sso_client.E003",
            )
        )
    if getattr(settings, "HTTPS", False) and not issuer.startswith("https://"):
        errors.append(Error("The issuer must be reached over HTTPS in production.", id="sso_client.E004"))
    return errors + _mode_errors(conf)


def _mode_errors(conf) -> list[Error]:
    """Any-domain mode signs browsers in as an OpenID Connect client: it needs that client's id and secret."""
    if conf["MODE"] not in ("cookie", "oidc"):
        return [
            Error(
                f"SSO_CLIENT['MODE'] is {conf['MODE']!r}.",
                hint="Use 'cookie' (subdomains, the shared cookie) or 'oidc' (any domain); env SSO_CLIENT_MODE.",
                id="sso_client.E005",
            )
        ]
    needed = {
        "CLIENT_ID": ("sso_client.E006", "signs in as a client of the issuer", "SSO_CLIENT_ID", "client_id"),
        "CLIENT_SECRET": (
            "sso_client.E007",
            "authenticates to the token endpoint",
            "SSO_CLIENT_SECRET",
            "client_secret",
        ),
    }
    return [
        Error(
            f"SSO_CLIENT[{key!r}] is not set, and oidc mode {why}.",
            hint=f"Set {variable} to the {printed} that `manage.py create_client` printed at the issuer.",
            id=error_id,
        )
        for key, (error_id, why, variable, printed) in needed.items()
        if conf["MODE"] == "oidc" and not conf[key]
    ]


@register(Tags.security)
def check_sso_client_production(app_configs, **kwargs) -> list[Error]:
    """Refuse a production start (HTTPS origins) with a weak secret, a wildcard origin or host, mixed
    schemes, or DEBUG on."""
    return production_errors("sso_client")
