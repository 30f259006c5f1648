"""URLs every relying app serves through sso_client (included by each app's urls.py).

- `GET /api/whoami/`: the token's user (`sub`, `username`, `roles`); 401 without a valid token.
- `GET /api/ping/`: `{"ok": true}` with no authentication (health checks, the benchmark's baseline).
- `GET /favicon.ico`: the relying pages' icon, for browsers that ask before reading a page's `<link rel=icon>`.
- Any-domain mode (SSO_CLIENT["MODE"] "oidc"; 404 otherwise, sso_client.oidc_views): `GET /sso/login/`,
  `GET /sso/callback/` (the redirect URI to register), `GET|POST /sso/refresh/`, `POST /sso/logout/`,
  `POST /sso/backchannel-logout/` (the back-channel logout URI to register).

Each app adds its own home at `/` (views.AppHomeView, with its resources)."""

from django.urls import path

from . import oidc_views, views

urlpatterns: list = [
    path("api/whoami/", views.WhoAmIView.as_view(), name="sso_whoami"),
    path("api/ping/", views.PingView.as_view(), name="sso_ping"),
    path("favicon.ico", views.favicon, name="sso_favicon"),
    path("sso/login/", oidc_views.login, name="sso_login"),
    path("sso/callback/", oidc_views.callback, name="sso_callback"),
    path("sso/refresh/", oidc_views.refresh, name="sso_refresh"),
    path("sso/logout/", oidc_views.logout, name="sso_logout"),
    path("sso/backchannel-logout/", oidc_views.backchannel_logout, name="sso_backchannel_logout"),
]
