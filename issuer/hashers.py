"""The issuer's password hasher: Argon2id through Django's own Argon2PasswordHasher (argon2-cffi), with
parameters chosen against OWASP's Password Storage Cheat Sheet (the README, "Performance and scale", says
why these). First in PASSWORD_HASHERS, so Django's ModelBackend also uses it for the dummy hash it computes
for unknown usernames, and rehashes older PBKDF2 hashes on the next successful sign-in."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Argon2id at OWASP's minimum, m = 19 MiB (19,456 KiB), t = 2, p = 1: one lane, so one login costs one
    core's time and nothing else. Django's defaults (100 MiB, eight lanes) would cost five times the memory
    per concurrent sign-in. Same algorithm name as Django's, so a change of parameters rehashes on the next
    sign-in too (must_update compares them)."""

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
