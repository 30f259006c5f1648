"""The issuer's URLs."""

from django.contrib import admin
from django.urls import path

from .views import (
    account,
    api,
    discovery,
    inspector,
    oidc,
    oidc_session,
    pages,
    passkeys,
    password_reset,
    second_factor,
)

urlpatterns = [
    path("api/token/", api.TokenObtainView.as_view(), name="token_obtain"),
    path("api/token/refresh/", api.TokenRefreshView.as_view(), name="token_refresh"),
    path("api/logout/", api.LogoutView.as_view(), name="api_logout"),
    path("api/logout/everywhere/", api.LogoutEverywhereView.as_view(), name="api_logout_everywhere"),
    path("api/sessions/", api.SessionListView.as_view(), name="session_list"),
    path("api/sessions/<str:sid>/revoke/", api.SessionRevokeView.as_view(), name="session_revoke"),
    path("api/revocations/", api.RevocationListView.as_view(), name="revocation_list"),
    path("api/service-token/", api.ServiceTokenView.as_view(), name="service_token"),
    path("api/password-reset/", password_reset.PasswordResetRequestView.as_view(), name="api_password_reset"),
    path(
        "api/password-reset/confirm/",
        password_reset.PasswordResetConfirmView.as_view(),
        name="api_password_reset_confirm",
    ),
    path(".well-known/jwks.json", discovery.jwks, name="jwks"),
    path(".well-known/openid-configuration", discovery.openid_configuration, name="openid_configuration"),
    # The OpenID Connect provider (issuer/views/oidc.py); its authorization endpoint is under session/ below.
    path("oauth/token/", oidc.token, name="oauth_token"),
    path("oauth/revoke/", oidc.revoke, name="oauth_revoke"),
    path("oauth/introspect/", oidc.introspect, name="oauth_introspect"),
    path("oauth/client/", oidc.client_registration, name="oauth_client_registration"),
    # Browser sign-on (issuer/views/pages.py). Everything under session/ receives the refresh cookie.
    path("", pages.home, name="browser_home"),
    path("favicon.ico", pages.favicon, name="favicon"),
    path("login/", pages.login_page, name="browser_login"),
    path("login/second-factor/", second_factor.second_factor_page, name="browser_second_factor"),
    path("login/step-up/", second_factor.step_up_page, name="browser_step_up"),
    path("logout/", pages.logout_page, name="browser_logout"),
    path("logout/done/", pages.signed_out_page, name="browser_signed_out"),
    path("session/renew/", pages.session_renew, name="browser_renew"),
    path("session/token/", pages.session_token, name="browser_session_token"),
    path("session/logout/", pages.session_logout, name="browser_session_logout"),
    path("session/authorize/", oidc.authorize, name="oauth_authorize"),
    # Password reset from an emailed link (issuer/views/password_reset.py); the token's own URL comes last.
    path("password-reset/", password_reset.password_reset_request_page, name="password_reset"),
    path("password-reset/sent/", password_reset.password_reset_sent_page, name="password_reset_sent"),
    path("password-reset/set/", password_reset.password_reset_set_page, name="password_reset_set"),
    path("password-reset/done/", password_reset.password_reset_done_page, name="password_reset_done"),
    path("password-reset/<str:token>/", password_reset.password_reset_link_page, name="password_reset_link"),
    # OpenID Connect sessions (issuer/views/oidc_session.py): RP-initiated logout and UserInfo.
    path("oauth/logout/", oidc_session.end_session, name="oauth_end_session"),
    path("oauth/userinfo/", oidc_session.userinfo, name="oauth_userinfo"),
    # The account page and the passkey ceremonies (issuer/views/account.py, passkeys.py).
    path("account/", account.account_page, name="account"),
    path("passkeys/register/options/", passkeys.register_options, name="passkey_register_options"),
    path("passkeys/register/verify/", passkeys.register_verify, name="passkey_register_verify"),
    path("passkeys/authenticate/options/", passkeys.authenticate_options, name="passkey_authenticate_options"),
    path("passkeys/authenticate/verify/", passkeys.authenticate_verify, name="passkey_authenticate_verify"),
    # The token inspector, staff only (issuer/views/inspector.py).
    path("inspect/", inspector.inspect_page, name="inspect_token"),
    path("admin/login/", pages.admin_login, name="browser_admin_login"),
    path("admin/logout/", pages.admin_logout, name="browser_admin_logout"),
    path("admin/", admin.site.urls),
]
