"""A person signed on at the issuer and at OpenID Connect clients, made by the issuer's own services: the browser
sign-on with its cookies, and for each client the session, access token and ID token its code exchange gives."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client

from issuer import clock
from issuer.models import AuthorizationCode, RelyingApp, SSOSession
from issuer.services.oidc_provider import id_token_sign
from issuer.services.sessions import TokenPair, client_session_start, session_start


@dataclass
class ClientSignOn:
    session: SSOSession
    access: str
    id_token: str


def oidc_client(app: RelyingApp, *, origin: str, backchannel_uri: str = "") -> RelyingApp:
    """`app` registered as a client at `origin`: a redirect URI, a post-logout URI and a back-channel URI."""
    app.redirect_uris = f"{origin}/sso/callback/"
    app.post_logout_redirect_uris = f"{origin}/\n{origin}/signed-out/"
    app.backchannel_logout_uri = backchannel_uri
    app.save()
    return app


def browser_sign_on(client: Client, *, user: AbstractBaseUser) -> TokenPair:
    """Sign `user` on in the test browser `client`: the issuer's two cookies, as the login page sets them."""
    pair = session_start(user=user)
    conf = settings.SSO_BROWSER
    client.cookies[conf["ACCESS_COOKIE_NAME"]] = pair.access
    client.cookies[conf["REFRESH_COOKIE_NAME"]] = pair.refresh
    return pair


def client_sign_on(*, browser: SSOSession, app: RelyingApp, scope: str = "openid profile email") -> ClientSignOn:
    """What the token endpoint's code exchange gives `app` for the sign-on `browser`."""
    now = clock.now()
    code = AuthorizationCode.objects.create(
        code_digest=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
        client=app,
        user=browser.user,
        browser_session=browser,
        redirect_uri=app.redirect_uri_list[0],
        scope=scope,
        code_challenge="unused-here",
        auth_time=now,
        expires_at=now + timedelta(seconds=60),
    )
    pair = client_session_start(code=code)
    id_token = id_token_sign(session=pair.session, client_id=app.client_id, access_token=pair.access)
    return ClientSignOn(pair.session, pair.access, id_token)
