"""Django app configuration for sso_client."""

from django.apps import AppConfig


class SSOClientConfig(AppConfig):
    name = "sso_client"
    verbose_name = "SSO relying party"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
