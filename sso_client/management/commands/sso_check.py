"""`manage.py sso_check`: the checks that need the network. Fetches the issuer's discovery document, its
JWKS and its revocation list, as this site will, and prints what it found; exits non-zero on a problem."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sso_client.conf import issuer_fetch_base, sso_settings
from sso_client.http import FetchError, fetch_json, issuer_url
from sso_client.keys import jwks_parse

ENDPOINTS = (
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "end_session_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "jwks_uri",
    "revocation_list_uri",
)


class Command(BaseCommand):
    help = "Fetch the issuer's discovery document, JWKS and revocation list, and print what was found."

    def handle(self, *args: Any, **options: Any) -> None:
        conf = sso_settings()
        problems: list[str] = []
        discovery_url = issuer_fetch_base() + "/.well-known/openid-configuration"
        self.stdout.write(f"discovery: {discovery_url}")
        try:
            discovery = fetch_json(discovery_url)
        except FetchError as e:
            raise CommandError(
                f"discovery could not be fetched ({e}): is SSO_CLIENT['ISSUER'] (or ISSUER_INTERNAL_URL) the "
                "issuer's URL, and is the issuer up?"
            ) from e
        published = discovery.get("issuer")
        self.stdout.write(f"issuer: {published}")
        if published != conf["ISSUER"]:
            problems.append(
                f"the document names issuer {published!r}, but SSO_CLIENT['ISSUER'] is {conf['ISSUER']!r}: "
                "every token would be refused (wrong issuer); set ISSUER to the document's value exactly"
            )
        for name in ENDPOINTS:
            self.stdout.write(f"{name}: {discovery.get(name, '(not published)')}")
        self.stdout.write(f"kids: {', '.join(self._kids(discovery, problems)) or '(none)'}")
        self._revocations(discovery, problems)
        audiences = discovery.get("audiences_supported")
        if isinstance(audiences, list):
            known = conf["AUDIENCE"] in audiences
            self.stdout.write(f"audience {conf['AUDIENCE']!r}: {'known' if known else 'UNKNOWN'} at the issuer")
            if not known:
                problems.append(f"the issuer does not know the audience {conf['AUDIENCE']!r}: register this site")
        else:
            self.stdout.write(
                f"audience {conf['AUDIENCE']!r}: the issuer does not publish its audiences (cannot tell here)"
            )
        if problems:
            raise CommandError("; ".join(problems))
        self.stdout.write(self.style.SUCCESS("sso_check: OK"))

    def _kids(self, discovery: dict[str, Any], problems: list[str]) -> list[str]:
        try:
            return sorted(jwks_parse(fetch_json(issuer_url(discovery.get("jwks_uri")))))
        except FetchError as e:
            problems.append(f"the JWKS could not be fetched ({e})")
        except ValueError as e:
            problems.append(f"the JWKS has no usable key ({e})")
        return []

    def _revocations(self, discovery: dict[str, Any], problems: list[str]) -> None:
        uri = discovery.get("revocation_list_uri")
        if uri is None:
            problems.append("the issuer publishes no revocation_list_uri: revoked sessions would stay signed in")
            return
        try:
            body = fetch_json(issuer_url(uri), max_bytes=sso_settings()["REVOCATION_MAX_BYTES"])
        except FetchError as e:
            problems.append(f"the revocation list could not be fetched ({e})")
            return
        self.stdout.write(f"revoked sessions: {len(body.get('revoked_sids') or [])}")
