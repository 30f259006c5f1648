"""The user at a relying app: built from the token's claims, never from a database row."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SSOUser:
    """Quacks enough like a Django user for DRF, permissions and templates."""

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
