"""`manage.py sso_check`: the checks that need the network. Fetches the issuer's discovery document, its
JWKS and its revocation list, as this site will, and prints what it found; exits non-zero on a problem."""

from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import NoReverseMatch, reverse

from sso_client.conf import issuer_fetch_base, oidc_mode, sso_settings
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
    help = (
        "Fetch the issuer's discovery document, JWKS and revocation list, and (with a client id and secret) this "
        "site's registration at the issuer, and print what was found."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--site-url",
            default="",
            help="This site's public origin (https://app.example.com): its callback must be registered exactly.",
        )

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
        if conf["CLIENT_ID"] and conf["CLIENT_SECRET"]:
            self._registration(discovery, problems, site_url=options["site_url"].rstrip("/"))
        elif oidc_mode():
            problems.append("oidc mode needs SSO_CLIENT['CLIENT_ID'] and ['CLIENT_SECRET'] (create_client prints them)")
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

    def _registration(self, discovery: dict[str, Any], problems: list[str], *, site_url: str) -> None:
        """This client's registration at the issuer, compared with what this site sends and expects."""
        conf = sso_settings()
        uri = discovery.get("client_registration_uri")
        if uri is None:
            self.stdout.write("registration: the issuer does not publish client_registration_uri (cannot tell here)")
            return
        try:
            registered = fetch_json(issuer_url(uri), auth=(conf["CLIENT_ID"], conf["CLIENT_SECRET"]))
        except FetchError as e:
            if e.status == 401:
                problems.append(
                    f"the issuer refused client {conf['CLIENT_ID']!r} with this CLIENT_SECRET: copy both from what "
                    "`create_client` printed (a secret is shown once; the admin can make a new one)"
                )
            else:
                problems.append(f"the registration could not be fetched ({e})")
            return
        self.stdout.write(f"client {registered.get('client_id')!r}: registered as {registered.get('client_name')!r}")
        if registered.get("audience") != conf["AUDIENCE"]:
            problems.append(
                f"this client's tokens carry audience {registered.get('audience')!r}, but SSO_CLIENT['AUDIENCE'] is "
                f"{conf['AUDIENCE']!r}: every token would be refused (wrong audience)"
            )
        redirect_uris = registered.get("redirect_uris") or []
        self.stdout.write(f"redirect URIs: {', '.join(redirect_uris) or '(none)'}")
        if oidc_mode():
            self._callback_registered(redirect_uris, problems, site_url=site_url)
        backchannel = registered.get("backchannel_logout_uri")
        self.stdout.write(f"back-channel logout URI: {backchannel or '(none)'}")
        if oidc_mode() and not backchannel:
            problems.append(
                "no back-channel logout URI is registered: a sign-out at the issuer would not reach this site; "
                "register this site's /sso/backchannel-logout/"
            )

    def _callback_registered(self, redirect_uris: list[str], problems: list[str], *, site_url: str) -> None:
        try:
            path = reverse("sso_callback")
        except NoReverseMatch:
            problems.append('sso_client\'s views are not routed: add path("", include("sso_client.urls")) to urls.py')
            return
        if site_url:
            if f"{site_url}{path}" not in redirect_uris:
                problems.append(
                    f"the redirect URI {site_url}{path} is not registered at the issuer: the issuer would refuse "
                    "every sign-in; register it exactly (scheme, host, port and path)"
                )
        elif not any(urlsplit(uri).path == path for uri in redirect_uris):
            problems.append(
                f"no registered redirect URI ends in {path}, this site's callback: register "
                f"https://<this site>{path} (run with --site-url to check it exactly)"
            )
