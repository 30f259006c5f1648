"""The one place the environment is read: every setting that varies by deployment comes through `env`."""

import ipaddress
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


class _SetVariables(Mapping):
    """The process environment without the variables set to the empty string: `NAME=` (as in a .env copied
    from .env.example) means "use the default", never "an empty value" (an empty DATABASE_URL is no database)."""

    def __getitem__(self, name: str) -> str:
        value = os.environ[name]
        if value == "":
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return (name for name, value in os.environ.items() if value != "")

    def __len__(self) -> int:
        return sum(1 for _name in self)


env = environ.Env()
env.ENVIRON = _SetVariables()
# A developer may keep variables in a git-ignored .env; real deployments set the process environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_required(name: str) -> str:
    """Read a variable that has no safe default; fail fast at start-up when it is missing."""
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable (see .env.example).")
    return value


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A comma-separated list of CIDR networks; fail fast at start-up on one that does not parse."""
    try:
        return [ipaddress.ip_network(value.strip(), strict=False) for value in env.list(name, default=[])]
    except ValueError as e:
        raise ImproperlyConfigured(f"{name}: {e} (see .env.example).") from e
