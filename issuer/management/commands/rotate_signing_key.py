"""Start signing with a new key now; the previous key stays published until its tokens expire."""

from django.core.management.base import BaseCommand, CommandError

from issuer.signing import keys


class Command(BaseCommand):
    help = (
        "Generate a new signing key and make it active at once. The old key becomes 'retiring': still in the "
        "JWKS until every token it signed has expired, then retired automatically."
    )

    def handle(self, *args, **options) -> None:
        try:
            key = keys.signing_key_rotate()
        except keys.SigningKeyError as e:
            raise CommandError(str(e)) from e
        self.stdout.write(f"New active signing key: {key.kid}")
        self.stdout.write(
            f"The previous key stays in the JWKS for {keys.retire_after()}, then is retired the next time the "
            "JWKS is built (or by retire_signing_keys)."
        )
