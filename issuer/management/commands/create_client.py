"""`manage.py create_client NAME --redirect-uri URI ...`: register an OpenID Connect client; prints its id and
secret as JSON (the secret only now: it is stored hashed)."""

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from issuer.services.oauth_clients import ClientRegistrationError, client_register


class Command(BaseCommand):
    help = 'Register an OpenID Connect client and print {"client_id": ..., "client_secret": ...} as JSON.'

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

    def handle(self, *args, **options) -> None:
        try:
            registered = client_register(
                name=options["name"],
                redirect_uris=options["redirect_uris"],
                post_logout_redirect_uris=options["post_logout"],
                backchannel_logout_uri=options["backchannel_logout_uri"],
                public=options["public"],
                audience=options["audience"],
            )
        except ClientRegistrationError as e:
            raise CommandError(str(e)) from e
        self.stdout.write(
            json.dumps({"client_id": registered.client.client_id, "client_secret": registered.client_secret})
        )
