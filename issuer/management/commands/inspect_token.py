"""Explain a token: its header and claims (times as dates), and whether and why it verifies here."""

import sys

from django.core.management.base import BaseCommand, CommandError

from issuer.services.inspector import KINDS, token_inspect


class Command(BaseCommand):
    help = (
        "Show a token's header and claims and whether it verifies against this issuer's current keys and "
        "sessions; if not, why. Exits with status 1 when it does not verify."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "token", help="The token, or - to read it from standard input (keeps it out of shell history)."
        )
        parser.add_argument("--audience", help="Check it for this app only (default: any app this issuer knows).")
        parser.add_argument("--type", dest="expected_type", choices=sorted(KINDS), help="What the token should be.")

    def handle(
        self, *args, token: str, audience: str | None = None, expected_type: str | None = None, **options
    ) -> None:
        raw = sys.stdin.read() if token == "-" else token
        inspection = token_inspect(raw, audience=audience, expected_type=expected_type)
        width = max(
            (len(name) for name, _ in [*inspection.readable_header(), *inspection.readable_claims()]), default=0
        )
        for title, rows in (("Header", inspection.readable_header()), ("Claims", inspection.readable_claims())):
            if rows:
                self.stdout.write(title)
                for name, value in rows:
                    self.stdout.write(f"  {name.ljust(width)}  {value}")
        for note in inspection.notes:
            self.stdout.write(f"Note: {note}")
        if not inspection.valid:
            raise CommandError(f"Does not verify: {inspection.reason}", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"Verifies: a valid {inspection.kind_label}."))
