"""Browser sign-on rules at the issuer: where a browser may be sent after signing in, which relying app a
URL belongs to, who the access cookie says is signed in, and renewing a session from its refresh cookie when
several tabs race to do it. The views in issuer/views/pages.py call these."""

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework_simplejwt.exceptions import TokenError

from .. import metrics
from ..http import origin_of
from ..models import RelyingApp
from ..selectors import client_origins, live_session_get
from ..signing.tokens import IssuerCookieToken, SSOAccessToken
from .errors import SignOnError
from .sessions import session_refresh

HOME = "/"
MAX_NEXT_LENGTH = 2048


def configured_origins() -> set[str]:
    """The issuer and the relying origins this deployment configures (SSO_ISSUER_URL, ORDERS_URL, PRODUCTS_URL,
    SSO_EXTRA_RELYING_ORIGINS)."""
    return {origin_of(origin) for origin in settings.SITE_ORIGINS}


def script_origin_allowed(origin: str) -> bool:
    """Whether script on `origin` may spend this browser's refresh cookie (the cookie-renewal endpoint): a
    configured site, or a first-party client registered at the issuer (asked only for another origin: it
    costs a query)."""
    origin = origin.lower()
    return origin in configured_origins() or origin in client_origins().scripts


def redirect_target(raw: str | None) -> str:
    """Where to send a browser after signing in or out: `raw` when it is a path on the issuer or a URL on a
    configured site's origin or a registered client's (same scheme, host and port), the issuer's home page
    otherwise.

    This is the open-redirect guard: a login page that forwards anywhere turns a trusted link into a phishing
    link. Other hosts, scheme-relative `//evil`, `javascript:` and `data:`, backslashes, userinfo
    (`http://orders.example.com@evil`), look-alike hosts and ports, and anything with whitespace or control
    characters all go home."""
    if not raw or len(raw) > MAX_NEXT_LENGTH or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        return HOME
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or raw.startswith(("//", "/\\", "\\")):
        origin = origin_of(raw)
        if parts.scheme not in ("http", "https"):
            return HOME
        # The configured sites first: a registered client's origin costs a query.
        if origin not in configured_origins() and origin not in client_origins().pages:
            return HOME
        allowed_hosts = {parts.netloc}
        return (
            raw
            if url_has_allowed_host_and_scheme(raw, allowed_hosts=allowed_hosts, require_https=settings.HTTPS)
            else HOME
        )
    # A relative URL must be a path from the root: "%2F%2Fevil" or "..\\" are not what a redirect should follow.
    if not raw.startswith("/") or not url_has_allowed_host_and_scheme(raw, allowed_hosts=set()):
        return HOME
    return raw


def relying_app_for(url: str) -> RelyingApp | None:
    """The active relying app whose origin `url` is on, if any."""
    origin = origin_of(url)
    for app in RelyingApp.objects.filter(is_active=True):
        if origin_of(app.origin.rstrip("/")) == origin:
            return app
    return None


def app_refused(*, next_url: str, access: str) -> RelyingApp | None:
    """The relying app `next_url` is on when the access token does not name it in `aud`: sending the browser
    there would only bring it straight back here (that app refuses the cookie), so the issuer says why instead."""
    if not next_url.startswith(("http://", "https://")):
        return None
    app = relying_app_for(next_url)
    if app is None:
        return None
    audiences = SSOAccessToken(access, verify=False)["aud"]
    return None if app.audience in audiences else app


# The OpenID Connect authorization endpoint (issuer/views/oidc.py), where the login page leads back to.
AUTHORIZE_PATH = "/session/authorize/"

# The issuer's own pages that only staff may use, by path prefix, with the name a person knows them by.
STAFF_PAGES = {"/admin/": "Administration", "/inspect/": "the token inspector"}


def _issuer_path(url: str) -> str | None:
    """The path of `url` when it is a page of this issuer (relative, or on SSO_ISSUER_URL)."""
    parts = urlsplit(url)
    if parts.netloc and origin_of(url) != origin_of(settings.SSO_ISSUER_URL):
        return None
    return parts.path or "/"


def staff_page_name(url: str) -> str | None:
    """The name of the staff-only issuer page `url` leads to, if it leads to one."""
    path = _issuer_path(url)
    if path is None:
        return None
    return next((name for prefix, name in STAFF_PAGES.items() if path.startswith(prefix)), None)


def staff_page_refused(*, next_url: str, access: str) -> str | None:
    """The name of the staff-only page `next_url` leads to when the access token is not a staff member's:
    the page would only send the browser back to an empty sign-in form, so the issuer says why instead."""
    name = staff_page_name(next_url)
    if name is None or SSOAccessToken(access, verify=False).get("staff"):
        return None
    return name


def destination_name(next_url: str) -> str:
    """What a person signing in is on their way to, in words for the sign-in page ("" for the home page)."""
    if next_url.startswith(("http://", "https://")) and _issuer_path(next_url) is None:
        app = relying_app_for(next_url)
        return app.name if app is not None else ""
    if _issuer_path(next_url) == AUTHORIZE_PATH:
        # On the way back to an OpenID Connect client's authorization request: that client.
        client_id = parse_qs(urlsplit(next_url).query).get("client_id", [""])[0]
        if not client_id.isprintable():  # a NUL names no client (and PostgreSQL refuses to look for one)
            return ""
        app = RelyingApp.objects.filter(client_id=client_id, is_active=True).first()
        return app.name if app is not None else ""
    return staff_page_name(next_url) or ""


def signed_in_user(raw_access: str | None) -> tuple[AbstractBaseUser, SSOAccessToken] | None:
    """The user an access cookie names, if the token is the issuer's (whatever relying apps it names) and its
    session is still live."""
    if not raw_access:
        return None
    try:
        token = IssuerCookieToken(raw_access)
    except TokenError:
        return None
    session = live_session_get(sid=token["sid"], sub=token["sub"])
    if session is None:
        return None
    return session.user, token


@dataclass(frozen=True)
class Renewal:
    """A renewed browser session: the cookies to set."""

    access: str
    refresh: str
    access_expires_in: int
    sid: str


def session_renew(*, raw_refresh: str, ip: str | None = None) -> Renewal:
    """Renew a browser session from its refresh cookie: a new access token and a rotated refresh token
    (session_refresh), or RefreshRejected.

    Browsers race: two tabs opened after the access cookie expired, or a page and its script, present the
    same refresh cookie within milliseconds. That is the rule every refresh follows (a client retrying within
    seconds, issuer.services.sessions.refresh_is_retry): the later one gets its rotation's pair again instead
    of revoking the session, and past the grace period a rotated cookie is a replay again."""
    try:
        pair = session_refresh(raw_refresh=raw_refresh, ip=ip)
    except SignOnError:
        metrics.REFRESHES.labels(outcome="rejected").inc()
        raise
    return Renewal(
        access=pair.access,
        refresh=pair.refresh,
        access_expires_in=pair.access_expires_in,
        sid=pair.session.sid,
    )
