"""Passwords at the issuer: Argon2id first (at least OWASP's minimum), older PBKDF2 hashes rehashed on the next
successful sign-in, and an unknown username costing exactly the work of a real account's check."""

import importlib

import argon2
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import identify_hasher, make_password

from issuer.services.credentials import InvalidCredentials, credentials_authenticate
from tests.issuer.conftest import PASSWORD, obtain

# OWASP Password Storage Cheat Sheet, Argon2id minimum: 19 MiB of memory, 2 passes, 1 lane.
OWASP_MINIMUM = {"memory_cost": 19 * 1024, "time_cost": 2, "parallelism": 1}


@pytest.fixture(autouse=True)
def _real_hashers(settings):
    # Undo the suite's fast test hasher (tests/issuer/conftest.py): these tests are about the real ones.
    settings.PASSWORD_HASHERS = importlib.import_module("settings.issuer").PASSWORD_HASHERS


@pytest.fixture
def argon2_work(monkeypatch):
    """Every Argon2 computation (hash or verify) as (type, memory KiB, passes, lanes), in call order."""
    work: list[tuple[str, int, int, int]] = []
    hash_secret, verify_secret = argon2.low_level.hash_secret, argon2._password_hasher.verify_secret

    def hashed(secret, salt, *, time_cost, memory_cost, parallelism, hash_len, type, **kwargs):
        work.append((type.name, memory_cost, time_cost, parallelism))
        return hash_secret(
            secret,
            salt,
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=hash_len,
            type=type,
            **kwargs,
        )

    def verified(hash, secret, type):
        params = argon2.extract_parameters(hash.decode())
        work.append((params.type.name, params.memory_cost, params.time_cost, params.parallelism))
        return verify_secret(hash, secret, type)

    monkeypatch.setattr(argon2.low_level, "hash_secret", hashed)
    monkeypatch.setattr(argon2._password_hasher, "verify_secret", verified)
    return work


def test_new_passwords_are_argon2id_at_least_as_strong_as_owasps_minimum():
    encoded = make_password(PASSWORD)
    assert identify_hasher(encoded).algorithm == "argon2"
    params = argon2.extract_parameters(encoded.removeprefix("argon2"))
    assert params.type is argon2.Type.ID
    assert params.memory_cost >= OWASP_MINIMUM["memory_cost"]
    assert params.time_cost >= OWASP_MINIMUM["time_cost"]
    assert params.parallelism >= OWASP_MINIMUM["parallelism"]


def test_a_pbkdf2_hash_is_rehashed_with_argon2id_on_the_next_successful_sign_in(users):
    bob = users["bob"]
    bob.password = make_password(PASSWORD, hasher="pbkdf2_sha256")  # as every account was before
    bob.save(update_fields=["password"])

    with pytest.raises(InvalidCredentials):
        credentials_authenticate(username="bob", password="not the password")
    bob.refresh_from_db()
    assert bob.password.startswith("pbkdf2_sha256$"), "a failed sign-in changes nothing"

    assert credentials_authenticate(username="bob", password=PASSWORD) == bob
    bob.refresh_from_db()
    assert bob.password.startswith("argon2$argon2id$")
    assert bob.check_password(PASSWORD)


def test_the_upgrade_is_not_a_password_change_and_ends_no_session(users, api, django_capture_on_commit_callbacks):
    """Rehashing the same password with a stronger hasher must not pass for a password change, or the first
    sign-in after the hasher moved to Argon2id would sign every account out of all its other sessions."""
    from issuer.models import SSOSession

    assert obtain(api, "bob").status_code == 200
    get_user_model().objects.filter(username="bob").update(password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
    with django_capture_on_commit_callbacks(execute=True):  # revocation runs after commit
        assert obtain(api, "bob").status_code == 200
    assert identify_hasher(get_user_model().objects.get(username="bob").password).algorithm == "argon2"
    sessions = SSOSession.objects.filter(user__username="bob")
    assert sessions.count() == 2 and not sessions.filter(revoked_at__isnull=False).exists()


def test_the_token_api_upgrades_too(users, api):
    carol = users["carol"]
    carol.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    carol.save(update_fields=["password"])
    assert obtain(api, "carol").status_code == 200
    carol.refresh_from_db()
    assert identify_hasher(carol.password).algorithm == "argon2"


def test_an_unknown_username_costs_exactly_the_work_of_a_real_accounts_check(users, argon2_work):
    get_user_model().objects.filter(username="carol").update(is_active=False)
    attempts = {
        "unknown user": ("nobody-by-this-name", PASSWORD),
        "wrong password": ("bob", "not the password"),
        "inactive user": ("carol", PASSWORD),
    }
    work = {}
    for kind, (username, password) in attempts.items():
        argon2_work.clear()
        with pytest.raises(InvalidCredentials):
            credentials_authenticate(username=username, password=password)
        work[kind] = list(argon2_work)
    argon2_work.clear()
    credentials_authenticate(username="bob", password=PASSWORD)
    work["right password"] = list(argon2_work)

    one_check = [("ID", 19 * 1024, 2, 1)]  # one Argon2id computation with the configured parameters
    assert work == dict.fromkeys(work, one_check), work
