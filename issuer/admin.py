"""The issuer's admin: relying apps (OpenID Connect clients) and access, users and roles, sessions, signing keys,
audit, service clients, and second factors (seen on the user, reset by staff allowed to; MFA policies)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from .http import client_ip
from .models import (
    AuditEvent,
    GroupMFAPolicy,
    RelyingApp,
    ServiceClient,
    SigningKey,
    SSOSession,
    TOTPDevice,
    WebAuthnCredential,
)
from .services.mfa import second_factors_reset
from .services.oauth_clients import client_secret_generate
from .services.service_clients import service_client_secret_generate
from .services.sessions import session_revoke, user_sessions_revoke
from .signing import keys

User = get_user_model()

# The lists are read at 1280 px beside their filters, so the page-wide app sidebar gives its room to the
# columns (the admin's home page lists the same models).
admin.site.enable_nav_sidebar = False


def _when(value) -> str:
    """A time in the lists: ISO-like and short (the change page has the full one)."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _short_sid(sid: str) -> str:
    """A session id's first characters; the whole id is its tooltip and what search matches."""
    return format_html('<span title="{}">{}…</span>', sid, sid[:8]) if sid else "-"


def _show_secret(model_admin: admin.ModelAdmin, request: HttpRequest, client_id: str, raw_secret: str) -> None:
    """A new client secret, shown once: it is stored hashed and never shown again."""
    model_admin.message_user(
        request,
        f"Secret of {client_id}: {raw_secret}  (copy it now: it is stored hashed and never shown again)",
        messages.WARNING,
    )


def _superuser(request: HttpRequest) -> bool:
    # A new secret is a credential shown on screen: superusers only, whatever else a staff member may change.
    return request.user.is_active and request.user.is_superuser


@admin.register(RelyingApp)
class RelyingAppAdmin(admin.ModelAdmin):
    """Relying apps, each also an OpenID Connect client. A confidential client's secret is shown once, when the
    app is added or by the "new secret" action; only its hash is kept."""

    list_display = [
        "name",
        "audience",
        "client_id",
        "client_type",
        "is_first_party",
        "mfa_required",
        "origin",
        "is_active",
    ]
    list_filter = ["client_type", "is_first_party", "mfa_required", "is_active"]
    filter_horizontal = ["users", "groups"]
    search_fields = ["name", "audience", "client_id"]
    # An origin typed without a scheme is taken as https (Django 6's default; silences its deprecation warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["name", "audience", "origin", "is_active", "mfa_required", "users", "groups"]}),
        (
            "OpenID Connect client",
            {
                "fields": [
                    "client_id",
                    "client_type",
                    "is_first_party",
                    "redirect_uris",
                    "post_logout_redirect_uris",
                    "backchannel_logout_uri",
                    "allowed_scopes",
                ]
            },
        ),
    ]
    actions = ["new_secret"]

    def save_model(self, request: HttpRequest, obj: RelyingApp, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change and not obj.is_public:
            _show_secret(self, request, obj.client_id, client_secret_generate(client=obj))

    def has_superuser_permission(self, request: HttpRequest) -> bool:
        return _superuser(request)

    @admin.action(
        description="Generate a new client secret (the old one stops working at once)", permissions=["superuser"]
    )
    def new_secret(self, request: HttpRequest, queryset: QuerySet) -> None:
        for app in queryset:
            if app.is_public:
                self.message_user(request, f"{app.client_id} is a public client: it has no secret.", messages.ERROR)
                continue
            _show_secret(self, request, app.client_id, client_secret_generate(client=app))


class RelyingAppAccessInline(admin.TabularInline):
    """App access on the user page: the relying apps this user may use (groups can grant more)."""

    model = RelyingApp.users.through
    extra = 0
    verbose_name = "app access"
    verbose_name_plural = "app access (this user; groups can grant more)"
    autocomplete_fields = ["relyingapp"]

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "relyingapp":
            formfield.label = "App"  # the column's heading, not the implicit through model's "relyingapp"
        return formfield


class GroupAppAccessInline(RelyingAppAccessInline):
    """App access on the group page: every member may use these relying apps."""

    model = RelyingApp.groups.through
    verbose_name_plural = "app access (every member)"


class SSOSessionInline(admin.TabularInline):
    model = SSOSession
    fields = ["sid", "created_at", "last_refreshed_at", "ip_address", "audience", "revoked_at", "revoked_reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class _SecondFactorInline(admin.TabularInline):
    """A user's second factors as staff see them: names and dates, never a secret or a key."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # people enrol their own, on the account page

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class TOTPDeviceInline(_SecondFactorInline):
    model = TOTPDevice
    fields = ["name", "created_at", "confirmed_at", "last_used_at"]
    readonly_fields = fields


class PasskeyInline(_SecondFactorInline):
    model = WebAuthnCredential
    fields = ["name", "created_at", "last_used_at", "is_discoverable", "backed_up"]
    readonly_fields = fields


admin.site.unregister(User)


@admin.register(User)
class SSOUserAdmin(UserAdmin):
    """Users: create, set password, roles (groups), app access, deactivate, and their SSO sessions."""

    inlines = [RelyingAppAccessInline, TOTPDeviceInline, PasskeyInline, SSOSessionInline]
    actions = ["log_out_everywhere", "deactivate", "reset_second_factors"]
    list_display = ["username", "email", "is_active", "is_staff", "is_superuser", "last_login"]

    @admin.action(
        description="Deactivate (they can no longer sign in; their sessions are revoked)", permissions=["change"]
    )
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for user in queryset.filter(is_active=True):
            user.is_active = False
            user.save(update_fields=["is_active"])  # issuer.signals revokes the sessions on commit
            count += 1
        self.message_user(request, f"Deactivated {count} user(s).", messages.SUCCESS)

    @admin.action(description="Log out everywhere (revoke all sessions)", permissions=["change"])
    def log_out_everywhere(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = sum(
            user_sessions_revoke(user=user, reason=SSOSession.RevokedReason.LOGOUT_EVERYWHERE) for user in queryset
        )
        self.message_user(request, f"Revoked {count} session(s).", messages.SUCCESS)

    def has_reset_second_factors_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return user.is_active and (user.is_superuser or user.has_perm("issuer.reset_second_factors"))

    @admin.action(
        description="Reset second factors (apps, passkeys, recovery codes; their sessions are revoked)",
        permissions=["reset_second_factors"],
    )
    def reset_second_factors(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset:
            second_factors_reset(user=user, by=request.user, ip=client_ip(request))
        self.message_user(request, f"Reset the second factors of {len(queryset)} user(s).", messages.SUCCESS)


class GroupMFAPolicyForm(forms.ModelForm):
    # Unticked on a group without a policy: ticking it is the change that creates one.
    mfa_required = forms.BooleanField(required=False, initial=False, label="MFA required")

    class Meta:
        model = GroupMFAPolicy
        fields = ["mfa_required"]


class GroupMFAPolicyInline(admin.StackedInline):
    model = GroupMFAPolicy
    form = GroupMFAPolicyForm
    max_num = 1
    can_delete = True
    verbose_name_plural = "MFA policy (members need a second factor for every app)"


admin.site.unregister(Group)


@admin.register(Group)
class RoleGroupAdmin(GroupAdmin):
    """Groups are the roles tokens carry (`roles`), and can grant app access to every member."""

    inlines = [GroupAppAccessInline, GroupMFAPolicyInline]


class SessionStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("live", "Live"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "live":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(SSOSession)
class SSOSessionAdmin(admin.ModelAdmin):
    list_display = ["session", "user", "created", "last_refreshed", "ip_address", "audience", "state"]
    list_filter = [SessionStateFilter, "revoked_reason", "created_at"]
    # A page at a time (the admin's 100), without counting the whole unfiltered table on every page.
    show_full_result_count = False
    list_select_related = ["user"]
    search_fields = ["sid", "user__username"]
    readonly_fields = [f.name for f in SSOSession._meta.fields if f.name != "refresh_jti"]
    exclude = ["refresh_jti"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="session", ordering="sid")
    def session(self, obj: SSOSession) -> str:
        return _short_sid(obj.sid)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: SSOSession) -> str:
        return _when(obj.created_at)

    @admin.display(description="last refreshed", ordering="last_refreshed_at")
    def last_refreshed(self, obj: SSOSession) -> str:
        return _when(obj.last_refreshed_at)

    @admin.display(description="state", ordering="revoked_at")
    def state(self, obj: SSOSession) -> str:
        if obj.revoked_at is None:
            return "live"
        return f"{obj.get_revoked_reason_display()} {_when(obj.revoked_at)}"

    @admin.action(description="Revoke selected sessions", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = sum(
            session_revoke(session=session, reason=SSOSession.RevokedReason.ADMIN)
            for session in queryset.select_related("user")
        )
        self.message_user(request, f"Revoked {count} session(s).", messages.SUCCESS)


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    """Superusers only. The private material is never rendered: it is not among the fields."""

    list_display = ["kid", "algorithm", "state", "source", "created_at", "activated_at", "retiring_at", "retired_at"]
    list_filter = ["state"]
    fields = ["kid", "algorithm", "state", "source", "created_at", "activated_at", "retiring_at", "retired_at"]
    readonly_fields = fields
    actions = ["rotate", "retire"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    has_view_permission = has_change_permission = lambda self, request, obj=None: request.user.is_superuser  # noqa: E731

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Rotate: make a new key active now (the selection is ignored)")
    def rotate(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            key = keys.signing_key_rotate()
        except keys.SigningKeyError as e:
            self.message_user(request, str(e), messages.ERROR)
            return
        self.message_user(request, f"New active key {key.kid}; the previous one is retiring.", messages.SUCCESS)

    @admin.action(description="Retire selected retiring keys whose tokens have expired")
    def retire(self, request: HttpRequest, queryset: QuerySet) -> None:
        retired = [key.kid for key in queryset if keys.signing_key_retire(key=key)]
        self.message_user(request, f"Retired {len(retired)} key(s).", messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: events are written by the services that do the work."""

    list_display = ["when", "kind", "username", "session", "ip_address", "detail"]
    list_filter = ["kind", "created_at"]
    # The trail only grows: a page at a time, without counting the whole unfiltered table on every page.
    show_full_result_count = False
    search_fields = ["username", "sid", "ip_address"]
    date_hierarchy = "created_at"

    @admin.display(description="when", ordering="created_at")
    def when(self, obj: AuditEvent) -> str:
        return _when(obj.created_at)

    @admin.display(description="session", ordering="sid")
    def session(self, obj: AuditEvent) -> str:
        return _short_sid(obj.sid)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ServiceClient)
class ServiceClientAdmin(admin.ModelAdmin):
    """Service clients (client credentials). The secret is shown once, when made; only its hash is kept.
    Deactivating a client stops new tokens at once; tokens it holds expire within SSO_SERVICE_TOKEN_SECONDS."""

    list_display = ["client_id", "name", "scopes", "is_active", "created_at", "secret_changed_at"]
    list_filter = ["is_active"]
    search_fields = ["client_id", "name"]
    filter_horizontal = ["audiences"]
    readonly_fields = ["created_at", "secret_changed_at"]
    actions = ["new_secret", "deactivate"]

    def save_model(self, request: HttpRequest, obj: ServiceClient, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            _show_secret(self, request, obj.client_id, service_client_secret_generate(client=obj))

    def has_superuser_permission(self, request: HttpRequest) -> bool:
        return _superuser(request)

    @admin.action(description="Generate a new secret (the old one stops working at once)", permissions=["superuser"])
    def new_secret(self, request: HttpRequest, queryset: QuerySet) -> None:
        for client in queryset:
            _show_secret(self, request, client.client_id, service_client_secret_generate(client=client))

    @admin.action(
        description="Deactivate (no new tokens; issued ones expire within their lifetime)", permissions=["change"]
    )
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.update(is_active=False)
        self.message_user(request, f"Deactivated {count} client(s).", messages.SUCCESS)
