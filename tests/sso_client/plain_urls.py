"""Plain Django views (no DRF) behind sso_client's middleware, decorators and mixins, for test_plain_django."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template import Context, Template
from django.urls import path
from django.views import View

from sso_client.access import RoleRequiredMixin, ScopeRequiredMixin, role_required, scope_required, sso_login_required

PAGE = Template(
    "{% if user.is_authenticated %}{{ user.username }} ({{ user.roles|join:', ' }}){% else %}anonymous{% endif %}"
)


def page(request):
    return HttpResponse(PAGE.render(Context({"user": request.user})))


class Page(View):
    def get(self, request):
        return page(request)


class ManagersPage(RoleRequiredMixin, Page):
    required_role = "catalog_manager"


class ProfilePage(ScopeRequiredMixin, Page):
    required_scope = "profile"


def permissions(request):
    user = request.user
    return HttpResponse(f"{user.has_perm('auth.view_user')} {user.has_module_perms('auth')}")


def roles(request):
    # Reads request.sso_user without touching request.user first.
    return HttpResponse(",".join(request.sso_user.roles) if request.sso_user else "-")


urlpatterns = [
    path("roles/", roles),
    path("open/", page),
    path("django-login-required/", login_required(page)),
    path("signed-in/", sso_login_required(page)),
    path("managers/", role_required("catalog_manager")(page)),
    path("profile/", scope_required("profile")(page)),
    path("managers-view/", ManagersPage.as_view()),
    path("profile-view/", ProfilePage.as_view()),
    path("permissions/", permissions),
]
