"""Sections (c) and (d) of `make bench`, in an issuer process (settings.issuer) on the benchmark's own
issuer database: a temporary SQLite file, or a temporary PostgreSQL database. Real services, real writes,
real commits; nothing is mocked.

(c) a refresh, services.session_refresh (row lock, rotation check, one UPDATE, commit, an RS256 access
    token and an HS256 refresh token), against one raw RSA-2048 PKCS#1 v1.5 / SHA-256 signature made with
    the same private key over the same-sized input: the one RSA signature a refresh cannot avoid. Beside
    them, the one database write a refresh cannot avoid either: a one-row UPDATE of a session that changes
    a value, committed (durably: what the database's own settings make a commit cost).
(d) a login, credentials_authenticate + session_start, against the password hasher alone (check_password with
    the configured hasher on the same stored hash): the cost a login cannot avoid; and both against the
    hasher every login paid before Argon2id (Django's PBKDF2, 1,000,000 iterations, on the same password).
    CPU time of this process (time.process_time), which a neighbour's load barely moves: the target is
    CPU per login.

Reads {"username", "password", "refresh_rounds", "login_rounds"} on stdin; prints one JSON object."""

import json
import sys
import time

import django


def hasher_description(hasher, encoded: str) -> str:
    """The configured hasher and its cost parameters, as the stored hash records them."""
    if hasher.algorithm == "argon2":
        decoded = hasher.decode(encoded)
        return (
            f"argon2 ({decoded['variety']}), m={decoded['memory_cost'] // 1024} MiB, t={decoded['time_cost']}, "
            f"p={decoded['parallelism']}"
        )
    return f"{hasher.algorithm}, {getattr(hasher, 'iterations', '?')} iterations"


def main() -> None:
    params = json.load(sys.stdin)
    django.setup()

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password, get_hasher
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bench.timing import median_per_call
    from issuer.models import AuditEvent, SSOSession
    from issuer.services import credentials
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

    def write_with_audit() -> None:
        """The same write and the audit row a refresh records in its transaction: the floor of a refresh's
        database work, as the rules ask for it."""
        with transaction.atomic():
            SSOSession.objects.filter(pk=scratch.pk).update(last_refreshed_at=timezone.now())
            AuditEvent.objects.create(kind=AuditEvent.Kind.REFRESHED, user=user, username=username, sid=scratch.sid)

    for _ in range(10):  # warm-up: first queries, loaded key, caches
        refresh()
        raw_sign()
    with CaptureQueriesContext(connection) as queries:
        refresh()
    result = {
        "database": connection.vendor,
        "refresh": median_per_call(
            {
                "refresh": refresh,
                "raw_sign": raw_sign,
                "write_alone": write_alone,
                "write_with_audit": write_with_audit,
            },
            rounds=params["refresh_rounds"],
        ),
        "refresh_queries": len(queries),
        "refresh_statements": [query["sql"].split(" ", 1)[0] for query in queries.captured_queries],
    }

    if params["login_rounds"]:

        def login() -> None:
            services.session_start(user=credentials.credentials_authenticate(username=username, password=password))

        def hasher_alone() -> None:
            assert check_password(password, user.password)

        pbkdf2 = PBKDF2PasswordHasher()
        pbkdf2_hash = pbkdf2.encode(password, pbkdf2.salt())

        def pbkdf2_alone() -> None:
            assert pbkdf2.verify(password, pbkdf2_hash)

        hasher = get_hasher()
        login()  # the demo's stored hash is already the configured hasher's; this makes sure of it
        user.refresh_from_db()
        result["login"] = median_per_call(
            {"login": login, "hasher": hasher_alone, "pbkdf2": pbkdf2_alone},
            rounds=params["login_rounds"],
            clock=time.process_time,
        )
        result["hasher"] = hasher_description(hasher, user.password)
        if hasher.algorithm == "argon2":
            decoded = hasher.decode(user.password)
            result["hasher_params"] = {
                name: decoded[name] for name in ("variety", "memory_cost", "time_cost", "parallelism")
            }
        result["pbkdf2_iterations"] = pbkdf2.iterations
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
