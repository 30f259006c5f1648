"""Permission classes for relying apps. Each returns a bool and says in one line who is let in."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .service import ServiceCaller
from .user import SSOUser


class IsSSOAuthenticated(BasePermission):
    """Anyone with a valid SSO access token for this app."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, SSOUser)


class IsStaff(BasePermission):
    """Staff users of the issuer."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, SSOUser) and request.user.is_staff


class ReadOnly(BasePermission):
    """Safe methods only (GET, HEAD, OPTIONS)."""

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS


def HasRole(role: str) -> type[BasePermission]:  # noqa: N802  (used like a class: HasRole("x") | IsStaff)
    """A permission class letting in users whose token carries `role`."""

    class _HasRole(BasePermission):
        __doc__ = f"Users with role {role!r}."

        def has_permission(self, request, view) -> bool:
            return isinstance(request.user, SSOUser) and request.user.has_role(role)

    _HasRole.__name__ = f"HasRole_{role}"
    return _HasRole


class IsService(BasePermission):
    """Service clients calling with a service token (never a person)."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, ServiceCaller)


def HasScope(scope: str) -> type[BasePermission]:  # noqa: N802  (used like a class, as HasRole is)
    """A permission class letting in service clients whose token grants `scope`."""

    class _HasScope(BasePermission):
        __doc__ = f"Service clients with scope {scope!r}."

        def has_permission(self, request, view) -> bool:
            return isinstance(request.user, ServiceCaller) and request.user.has_scope(scope)

    _HasScope.__name__ = f"HasScope_{scope}"
    return _HasScope
