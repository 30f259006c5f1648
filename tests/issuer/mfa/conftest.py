"""Second-factor fixtures: a clock the tests move, an authenticator app with a known secret, codes from it."""

from datetime import datetime, timedelta

import jwt
import pyotp
import pytest
from django.utils import timezone

from issuer import clock
from issuer.models import TOTPDevice
from issuer.services import totp

from ..conftest import PASSWORD
from ..oidc.conftest import orders_client  # noqa: F401 (the OpenID Connect client fixture)

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


class Clock:
    """issuer.clock moved by hand: `advance` instead of sleeping."""

    def __init__(self) -> None:
        self.now = timezone.now().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def moved_clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(clock, "now", fake)
    return fake


def code_at(when: datetime, *, offset_steps: int = 0, secret: str = SECRET) -> str:
    return pyotp.TOTP(secret).at(when, counter_offset=offset_steps)


def enrol(user, *, secret: str = SECRET, name: str = "Phone") -> TOTPDevice:
    """A confirmed authenticator app for `user` with `secret`."""
    return TOTPDevice.objects.create(
        user=user, name=name, secret_encrypted=totp.secret_encrypt(secret), confirmed_at=timezone.now()
    )


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


__all__ = ["PASSWORD", "claims", "code_at", "enrol"]
