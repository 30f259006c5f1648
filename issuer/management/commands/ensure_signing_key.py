"""Create the first signing key if there is none (or activate SSO_SIGNING_KEY_FILE)."""

from django.core.management.base import BaseCommand

from issuer.signing import keys


class Command(BaseCommand):
    help = "Make sure the issuer has an active signing key."

    def handle(self, *args, **options) -> None:
        key = keys.signing_key_ensure()
        self.stdout.write(f"Active signing key: {key.kid} ({key.source})")
