"""`manage.py create_client NAME --redirect-uri URI ...`: register an OpenID Connect client; prints its id and
secret as JSON (the secret only now: it is stored hashed)."""

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from issuer.services.oauth_clients import ClientRegistrationError, client_register


class Command(BaseCommand):
    help = 'Register an OpenID Connect client; print {"client_id", "client_secret", "audience"} as JSON.'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="What people see on the consent page and in the admin.")
        parser.add_argument("--redirect-uri", action="append", required=True, dest="redirect_uris", metavar="URI")
        parser.add_argument(
            "--post-logout-redirect-uri", action="append", default=[], dest="post_logout", metavar="URI"
        )
        parser.add_argument("--backchannel-logout-uri", default="", metavar="URI")
        parser.add_argument("--public", action="store_true", help="No secret: a browser or mobile app (PKCE only).")
        parser.add_argument(
            "--audience", default="", help="What its access tokens carry in aud (default: a slug of NAME)."
        )
        parser.add_argument(
            "--first-party",
            action="store_true",
            help="Run by the issuer's own organisation: no consent page, and its pages' script may call the issuer.",
        )
        parser.add_argument("--user", action="append", default=[], dest="users", help="Who may use it (repeatable).")
        parser.add_argument(
            "--group", action="append", default=[], dest="groups", help="A group whose members may use it (repeatable)."
        )

    def handle(self, *args, **options) -> None:
        try:
            registered = client_register(
                name=options["name"],
                redirect_uris=options["redirect_uris"],
                post_logout_redirect_uris=options["post_logout"],
                backchannel_logout_uri=options["backchannel_logout_uri"],
                public=options["public"],
                audience=options["audience"],
                is_first_party=options["first_party"],
                usernames=options["users"],
                group_names=options["groups"],
            )
        except ClientRegistrationError as e:
            raise CommandError(str(e)) from e
        client = registered.client
        self.stdout.write(
            json.dumps(
                {"client_id": client.client_id, "client_secret": registered.client_secret, "audience": client.audience}
            )
        )
