"""Distinct access tokens for section (g) of `make bench`, minted in an issuer process (settings.issuer) on the
benchmark's own issuer database: one real sign-on (issuer.services.sessions.session_start) per token, so
each token is signed by the issuer's key and names a live session of its own.

Reads {"username", "count"} on stdin; prints a JSON list of access tokens."""

import json
import sys

import django


def main() -> None:
    params = json.load(sys.stdin)
    django.setup()

    from django.contrib.auth import get_user_model
    from django.db import transaction

    from issuer.services.sessions import session_start

    user = get_user_model().objects.get(username=params["username"])
    with transaction.atomic():  # one commit for all: the sign-ons are set-up here, not what is measured
        tokens = [session_start(user=user).access for _ in range(params["count"])]
    json.dump(tokens, sys.stdout)


if __name__ == "__main__":
    main()
