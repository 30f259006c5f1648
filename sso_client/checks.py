"""System checks: refuse to start a relying app whose verification policy is unsafe or incomplete, with a
hint for each mistake a newcomer makes. What needs the network (discovery, JWKS) is `manage.py sso_check`."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

from .conf import sso_settings

MIDDLEWARE = "sso_client.middleware.SSOAuthenticationMiddleware"
DJANGO_AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def _issuer_shape_problem(issuer: str) -> str | None:
    """What is wrong with the issuer URL's shape, or None. It must equal the tokens' `iss` exactly."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL"
    if "/.well-known/" in parts.path:
        return "is the discovery document's URL, not the issuer's"
    if parts.query or parts.fragment:
        return "has a query or fragment"
    if parts.path.endswith("/"):
        return "ends with a slash, which the tokens' `iss` does not"
    return None


def _served_over_https() -> bool:
    # Django's own settings say whether this site is served over HTTPS.
    return bool(settings.SECURE_SSL_REDIRECT or settings.SESSION_COOKIE_SECURE or settings.CSRF_COOKIE_SECURE)


@register(Tags.security)
def check_sso_client(app_configs, **kwargs) -> list[Error]:
    conf = sso_settings()
    errors = []
    issuer = conf["ISSUER"] or ""
    problem = _issuer_shape_problem(issuer)
    if problem:
        errors.append(
            Error(
                f"SSO_CLIENT['ISSUER'] ({issuer!r}) {problem}.",
                hint="Use the issuer's public URL exactly as its discovery document's `issuer` states it, "
                "e.g. 'https://sso.example.com' (`manage.py sso_check` shows it).",
                id="sso_client.E001",
            )
        )
    if not conf["AUDIENCE"]:
        errors.append(
            Error(
                "SSO_CLIENT['AUDIENCE'] is not set.",
                hint="Set it to this app's audience at the issuer (what its access tokens carry in `aud`; "
                "`create_client` prints it).",
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
    if _served_over_https() and not issuer.startswith("https://"):
        errors.append(
            Error(
                "This site is served over HTTPS but reaches the issuer over plain HTTP.",
                hint="Set SSO_CLIENT['ISSUER'] to the issuer's https:// URL.",
                id="sso_client.E004",
            )
        )
    return errors + _mode_errors(conf) + _middleware_errors() + _backend_errors(conf["USER_BACKEND"])


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


def _middleware_errors() -> list[Error]:
    middleware = list(settings.MIDDLEWARE)
    if MIDDLEWARE not in middleware or DJANGO_AUTH_MIDDLEWARE not in middleware:
        return []
    if middleware.index(MIDDLEWARE) < middleware.index(DJANGO_AUTH_MIDDLEWARE):
        return [
            Error(
                f"{MIDDLEWARE} comes before {DJANGO_AUTH_MIDDLEWARE}, which then replaces the SSO user.",
                hint=f"Move {MIDDLEWARE} after {DJANGO_AUTH_MIDDLEWARE} in MIDDLEWARE.",
                id="sso_client.E010",
            )
        ]
    return []


def _backend_errors(path: str) -> list[Error]:
    try:
        backend = import_string(path)
    except ImportError:
        return [
            Error(
                f"SSO_CLIENT['USER_BACKEND'] ({path!r}) cannot be imported.",
                hint="Use 'sso_client.backends.SSOUserBackend' (the default), "
                "'sso_client.backends.LocalUserBackend', or a subclass of one.",
                id="sso_client.E011",
            )
        ]
    from .backends import LocalUserBackend

    if isinstance(backend, type) and issubclass(backend, LocalUserBackend):
        if "django.contrib.auth" not in settings.INSTALLED_APPS:
            return [
                Error(
                    "SSO_CLIENT['USER_BACKEND'] links local users, but django.contrib.auth is not installed.",
                    hint="Add 'django.contrib.auth' (and 'django.contrib.contenttypes') to INSTALLED_APPS.",
                    id="sso_client.E012",
                )
            ]
    return []
