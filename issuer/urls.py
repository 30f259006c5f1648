"""The issuer's URLs."""

from django.contrib import admin
from django.urls import path

from .views import api as views
from .views import inspector as inspect_views
from .views import pages as web
from .views import password_reset as password_reset_views

urlpatterns = [
    path("api/token/", views.TokenObtainView.as_view(), name="token_obtain"),
    path("api/token/refresh/", views.TokenRefreshView.as_view(), name="token_refresh"),
    path("api/logout/", views.LogoutView.as_view(), name="api_logout"),
    path("api/logout/everywhere/", views.LogoutEverywhereView.as_view(), name="api_logout_everywhere"),
    path("api/sessions/", views.SessionListView.as_view(), name="session_list"),
    path("api/sessions/<str:sid>/revoke/", views.SessionRevokeView.as_view(), name="session_revoke"),
    path("api/revocations/", views.RevocationListView.as_view(), name="revocation_list"),
    path("api/service-token/", views.ServiceTokenView.as_view(), name="service_token"),
    path("api/password-reset/", password_reset_views.PasswordResetRequestView.as_view(), name="api_password_reset"),
    path(
        "api/password-reset/confirm/",
        password_reset_views.PasswordResetConfirmView.as_view(),
        name="api_password_reset_confirm",
    ),
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    path(".well-known/openid-configuration", views.openid_configuration, name="openid_configuration"),
    # Browser sign-on (issuer/views/pages.py). Everything under session/ receives the refresh cookie.
    path("", web.home, name="browser_home"),
    path("favicon.ico", web.favicon, name="favicon"),
    path("login/", web.login_page, name="browser_login"),
    path("logout/", web.logout_page, name="browser_logout"),
    path("logout/done/", web.signed_out_page, name="browser_signed_out"),
    path("session/renew/", web.session_renew, name="browser_renew"),
    path("session/token/", web.session_token, name="browser_session_token"),
    path("session/logout/", web.session_logout, name="browser_session_logout"),
    # Password reset from an emailed link (issuer/views/password_reset.py); the token's own URL comes last.
    path("password-reset/", password_reset_views.password_reset_request_page, name="password_reset"),
    path("password-reset/sent/", password_reset_views.password_reset_sent_page, name="password_reset_sent"),
    path("password-reset/set/", password_reset_views.password_reset_set_page, name="password_reset_set"),
    path("password-reset/done/", password_reset_views.password_reset_done_page, name="password_reset_done"),
    path("password-reset/<str:token>/", password_reset_views.password_reset_link_page, name="password_reset_link"),
    # The token inspector, staff only (issuer/views/inspector.py).
    path("inspect/", inspect_views.inspect_page, name="inspect_token"),
    path("admin/login/", web.admin_login, name="browser_admin_login"),
    path("admin/logout/", web.admin_logout, name="browser_admin_logout"),
    path("admin/", admin.site.urls),
]
