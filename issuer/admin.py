"""The issuer's admin: relying apps and who may use them, SSO sessions, signing keys, audit events."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from . import keys, services
from .models import AuditEvent, RelyingApp, SigningKey, SSOSession

User = get_user_model()


@admin.register(RelyingApp)
class RelyingAppAdmin(admin.ModelAdmin):
    list_display = ["name", "audience", "origin", "is_active"]
    filter_horizontal = ["users", "groups"]
    search_fields = ["name", "audience"]


class SSOSessionInline(admin.TabularInline):
    model = SSOSession
    fields = ["sid", "created_at", "last_refreshed_at", "ip_address", "audience", "revoked_at", "revoked_reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


admin.site.unregister(User)


@admin.register(User)
class SSOUserAdmin(UserAdmin):
    inlines = [SSOSessionInline]
    actions = ["log_out_everywhere"]

    @admin.action(description="Log out everywhere (revoke all sessions)")
    def log_out_everywhere(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = sum(
            services.user_sessions_revoke(user=user, reason=SSOSession.RevokedReason.LOGOUT_EVERYWHERE)
            for user in queryset
        )
        self.message_user(request, f"Revoked {count} session(s).", messages.SUCCESS)


@admin.register(SSOSession)
class SSOSessionAdmin(admin.ModelAdmin):
    list_display = [
        "sid",
        "user",
        "created_at",
        "last_refreshed_at",
        "ip_address",
        "audience",
        "revoked_at",
        "revoked_reason",
    ]
    list_filter = ["revoked_reason", "created_at"]
    search_fields = ["sid", "user__username"]
    readonly_fields = [f.name for f in SSOSession._meta.fields if f.name != "refresh_jti"]
    exclude = ["refresh_jti"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected sessions")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = sum(
            services.session_revoke(session=session, reason=SSOSession.RevokedReason.ADMIN)
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

    list_display = ["created_at", "kind", "username", "sid", "ip_address", "detail"]
    list_filter = ["kind", "created_at"]
    search_fields = ["username", "sid", "ip_address"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
