"""Sections (c) and (d) of `make bench`, in an issuer process (settings.issuer) on the benchmark's own
issuer database: a temporary SQLite file, or a temporary PostgreSQL database. Real services, real writes,
real commits; nothing is mocked.

(c) a refresh, services.session_refresh (row lock, rotation check, one UPDATE, commit, an RS256 access
    token and an HS256 refresh token), against one raw RSA-2048 PKCS#1 v1.5 / SHA-256 signature made with
    the same private key over the same-sized input: the one RSA signature a refresh cannot avoid. Beside
    them, the one database write a refresh cannot avoid either: a one-row UPDATE of a session that changes
    a value, committed (durably: what the database's own settings make a commit cost).
(d) a login, services.credentials_authenticate + services.session_start, against the password hasher alone
    (check_password with the configured hasher on the same stored hash): the cost a login cannot avoid.

Reads {"username", "password", "refresh_rounds", "login_rounds"} on stdin; prints one JSON object."""

import json
import sys

import django


def main() -> None:
    params = json.load(sys.stdin)
    django.setup()

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import check_password, get_hasher
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bench.timing import median_per_call
    from issuer.models import SSOSession
    from issuer.services import sessions as services
    from issuer.signing import keys

    username, password = params["username"], params["password"]
    user = get_user_model().objects.get(username=username)
    private_key = keys.active_signing_key().private_key
    pair = services.session_start(user=user)
    signing_input = pair.access.rpartition(".")[0].encode()
    current = {"refresh": pair.refresh}

    def refresh() -> None:
        current["refresh"] = services.session_refresh(raw_refresh=current["refresh"]).refresh

    def raw_sign() -> None:
        private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())

    scratch = services.session_start(user=user).session

    def write_alone() -> None:
        with transaction.atomic():
            SSOSession.objects.filter(pk=scratch.pk).update(last_refreshed_at=timezone.now())

    for _ in range(10):  # warm-up: first queries, loaded key, caches
        refresh()
        raw_sign()
    with CaptureQueriesContext(connection) as queries:
        refresh()
    result = {
        "database": connection.vendor,
        "refresh": median_per_call(
            {"refresh": refresh, "raw_sign": raw_sign, "write_alone": write_alone}, rounds=params["refresh_rounds"]
        ),
        "refresh_queries": len(queries),
        "refresh_statements": [query["sql"].split(" ", 1)[0] for query in queries.captured_queries],
    }

    if params["login_rounds"]:

        def login() -> None:
            services.session_start(user=services.credentials_authenticate(username=username, password=password))

        def hasher_alone() -> None:
            assert check_password(password, user.password)

        hasher = get_hasher()
        result["login"] = median_per_call({"login": login, "hasher": hasher_alone}, rounds=params["login_rounds"])
        result["hasher"] = f"{hasher.algorithm}, {getattr(hasher, 'iterations', '?')} iterations"
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
