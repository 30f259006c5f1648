"""The issuer's URLs."""

from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("api/token/", views.TokenObtainView.as_view(), name="token_obtain"),
    path("api/token/refresh/", views.TokenRefreshView.as_view(), name="token_refresh"),
    path("api/logout/", views.LogoutView.as_view(), name="api_logout"),
    path("api/logout/everywhere/", views.LogoutEverywhereView.as_view(), name="api_logout_everywhere"),
    path("api/sessions/", views.SessionListView.as_view(), name="session_list"),
    path("api/sessions/<str:sid>/revoke/", views.SessionRevokeView.as_view(), name="session_revoke"),
    path("api/revocations/", views.RevocationListView.as_view(), name="revocation_list"),
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    path(".well-known/openid-configuration", views.openid_configuration, name="openid_configuration"),
    path("admin/", admin.site.urls),
]
