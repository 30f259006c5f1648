"""The one place the environment is read: every setting that varies by deployment comes through `env`."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A developer may keep variables in a git-ignored .env; real deployments set the process environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_required(name: str) -> str:
    """Read a variable that has no safe default; fail fast at start-up when it is missing."""
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable (see .env.example).")
    return value
