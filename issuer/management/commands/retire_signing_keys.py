"""Stop publishing retiring keys whose tokens have all expired (or one key now, with --force)."""

from django.core.management.base import BaseCommand, CommandError

from issuer.models import SigningKey
from issuer.signing import keys


class Command(BaseCommand):
    help = (
        "Mark retired the keys no live token can still need (they already left the JWKS at their deadline); "
        "rotation does this too. Harmless to run from cron."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--kid", help="Retire this retiring key.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="With --kid: even if its tokens may be live (a compromised key); they stop verifying.",
        )

    def handle(self, *args, kid: str | None = None, force: bool = False, **options) -> None:
        if force and not kid:
            raise CommandError("--force needs --kid: name the one key to retire early.")
        if kid:
            key = SigningKey.objects.filter(kid=kid).first()
            if key is None:
                raise CommandError(f"No signing key {kid}.")
            if not keys.signing_key_retire(key=key, force=force):
                raise CommandError(f"{kid} is not retiring, or its tokens may still be live (use --force).")
            retired = [kid]
        else:
            retired = keys.signing_keys_retire_expired()
        self.stdout.write(f"Retired: {', '.join(retired) or 'none'}")
