"""webguard as a Django app, for the relying sites: it registers the production checks (webguard.checks)."""

from django.apps import AppConfig


class WebguardConfig(AppConfig):
    name = "webguard"
    verbose_name = "Web hardening"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
