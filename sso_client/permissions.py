"""Permission classes for relying apps. Each returns a bool and says in one line who is let in."""

from collections.abc import Callable

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


def _permission_for(name: str, who: str, lets_in: Callable[[object], bool]) -> type[BasePermission]:
    """A permission class named `name`, whose docstring is `who` and which lets in the users `lets_in` takes."""

    class _Permission(BasePermission):
        __doc__ = who

        def has_permission(self, request, view) -> bool:
            return lets_in(request.user)

    _Permission.__name__ = name
    return _Permission


def HasRole(role: str) -> type[BasePermission]:  # noqa: N802  (used like a class: HasRole("x") | IsStaff)
    """A permission class letting in users whose token carries `role`."""
    return _permission_for(
        f"HasRole_{role}", f"Users with role {role!r}.", lambda user: isinstance(user, SSOUser) and user.has_role(role)
    )


class IsService(BasePermission):
    """Service clients calling with a service token (never a person)."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, ServiceCaller)


def HasScope(scope: str) -> type[BasePermission]:  # noqa: N802  (used like a class, as HasRole is)
    """A permission class letting in service clients whose token grants `scope`."""
    return _permission_for(
        f"HasScope_{scope}",
        f"Service clients with scope {scope!r}.",
        lambda user: isinstance(user, ServiceCaller) and user.has_scope(scope),
    )
