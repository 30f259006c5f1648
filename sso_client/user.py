"""The user at a relying app: built from the token's claims, never from a database row; and the anonymous
user a request without a valid token gets (sso_client.middleware)."""

from dataclasses import dataclass
from typing import Any


class NoDjangoPermissions:
    """Django's permission API, answering no. Without it a stateless user at a site's own /admin/ is a 500
    (AttributeError: has_module_perms); with it the admin refuses it (no app to see, 403 on model pages)."""

    is_superuser = False

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False

    def get_all_permissions(self, obj: Any = None) -> set[str]:
        return set()


@dataclass(frozen=True)
class SSOUser(NoDjangoPermissions):
    """Quacks enough like a Django user for DRF, permissions, templates and django.contrib.admin. It holds no
    Django permissions: roles are the issuer's, and a site that wants its own admin and `has_perm` links a
    local user (sso_client.backends.LocalUserBackend)."""

    sub: str
    username: str
    roles: tuple[str, ...]
    is_staff: bool
    sid: str
    audiences: tuple[str, ...]

    is_authenticated = True
    is_anonymous = False
    is_active = True

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> "SSOUser":
        aud = claims["aud"]
        return cls(
            sub=claims["sub"],
            username=str(claims.get("username", "")),
            roles=tuple(str(role) for role in claims.get("roles", [])),
            is_staff=claims.get("staff") is True,
            sid=claims["sid"],
            audiences=tuple(aud if isinstance(aud, list) else [aud]),
        )

    @property
    def pk(self) -> str:
        return self.sub

    id = pk

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username or self.sub


class AnonymousSSOUser(NoDjangoPermissions):
    """`request.user` without a valid token: like django.contrib.auth's AnonymousUser, which this package
    does not import (a relying site need not install django.contrib.auth)."""

    pk = id = None
    username = ""
    roles: tuple[str, ...] = ()
    is_authenticated = False
    is_anonymous = True
    is_active = False
    is_staff = False

    def has_role(self, role: str) -> bool:
        return False

    def get_username(self) -> str:
        return ""

    def __str__(self) -> str:
        return "AnonymousUser"
