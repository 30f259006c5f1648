"""URLs every relying app serves through sso_client (included by each app's urls.py).

- `GET /api/whoami/`: the token's user (`sub`, `username`, `roles`); 401 without a valid token.
- `GET /api/ping/`: `{"ok": true}` with no authentication (health checks, the benchmark's baseline).
- `GET /favicon.ico`: the relying pages' icon, for browsers that ask before reading a page's `<link rel=icon>`.

Each app adds its own home at `/` (views.AppHomeView, with its resources)."""

from django.urls import path

from . import views

urlpatterns: list = [
    path("api/whoami/", views.WhoAmIView.as_view(), name="sso_whoami"),
    path("api/ping/", views.PingView.as_view(), name="sso_ping"),
    path("favicon.ico", views.favicon, name="sso_favicon"),
]
