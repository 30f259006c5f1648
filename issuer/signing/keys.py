"""Signing-key lifecycle: generate, load, publish, rotate, retire. The only module that reads a private key.

The one rule every function here keeps: a key is in the JWKS before any process signs with it, and stays
there until every token it signed has expired. The JWKS is therefore read from the database on each call
(a query of two or three rows), never from a per-process cache that could lag behind a rotation made by
another process, and a process learns which key to sign with from the database too (cached for seconds)."""

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_encode

from .. import clock
from ..models import AuditEvent, SigningKey

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
ACTIVE_KEY_CACHE_KEY = "issuer:active-kid"
# How long a process signs with the key it last looked up before asking again. Another process may go on
# signing with a key just rotated out for this long; that key is still published, so its tokens verify.
ACTIVE_KEY_RECHECK_SECONDS = 5
# Margin beyond the access-token lifetime before a retiring key is dropped from the JWKS: covers processes
# still signing with it for ACTIVE_KEY_RECHECK_SECONDS, relying apps' leeway (30 s by default) and clock skew.
RETIRE_MARGIN = timedelta(seconds=60)


class SigningKeyError(Exception):
    """The issuer cannot sign: no usable key, or key material that does not load."""


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    private_key: rsa.RSAPrivateKey


# Parsed private keys by kid, per process. Parsing (and decrypting) a key costs milliseconds; signing
# with a loaded one does not.
_loaded_keys: dict[str, LoadedKey] = {}
_loaded_lock = threading.Lock()


@dataclass
class _FileKeyState:
    """The key this process read from SSO_SIGNING_KEY_FILE, and when it last checked it is published."""

    loaded: LoadedKey | None = None
    checked_at: float = float("-inf")


_file_key = _FileKeyState()


def _issuer_settings() -> dict[str, Any]:
    return settings.SSO_ISSUER


def jwk_thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an RSA public JWK: SHA-256 over the required members in lexical order."""
    canonical = json.dumps(
        {"e": public_jwk["e"], "kty": public_jwk["kty"], "n": public_jwk["n"]}, separators=(",", ":"), sort_keys=True
    )
    return base64url_encode(hashlib.sha256(canonical.encode()).digest()).decode()


def public_jwk_for(private_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The public half as a JWK with its kid, ready to publish: never any private member."""
    jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    public = {"kty": "RSA", "n": jwk["n"], "e": jwk["e"]}
    return {**public, "kid": jwk_thumbprint(public), "use": "sig", "alg": ALGORITHM}


def _passphrase() -> bytes:
    return _issuer_settings()["KEY_PASSPHRASE"].encode()


def _require_rsa(private_key: PrivateKeyTypes) -> rsa.RSAPrivateKey:
    if not isinstance(private_key, rsa.RSAPrivateKey) or private_key.key_size < 2048:
        raise SigningKeyError("The signing key must be an RSA key of 2048 bits or more.")
    return private_key


def _load_file_key() -> rsa.RSAPrivateKey | None:
    path = _issuer_settings()["SIGNING_KEY_FILE"]
    if not path:
        return None
    try:
        pem = Path(path).read_bytes()
        return _require_rsa(serialization.load_pem_private_key(pem, password=None))
    except (OSError, ValueError, TypeError) as e:
        raise SigningKeyError(f"SSO_SIGNING_KEY_FILE could not be loaded: {type(e).__name__}") from e


def _store(private_key: rsa.RSAPrivateKey, *, source: str) -> SigningKey:
    """Save a key as the one active key; any previously active key becomes retiring (still published)."""
    public_jwk = public_jwk_for(private_key)
    encrypted = ""
    if source == "database":
        encrypted = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(_passphrase()),
        ).decode()
    now = clock.now()
    with transaction.atomic():
        previous = list(SigningKey.objects.select_for_update().filter(state=SigningKey.State.ACTIVE))
        key, _created = SigningKey.objects.update_or_create(
            kid=public_jwk["kid"],
            defaults={
                "public_jwk": public_jwk,
                "private_pem_encrypted": encrypted,
                "source": source,
                "state": SigningKey.State.ACTIVE,
                "activated_at": now,
                "retiring_at": None,
                "retired_at": None,
            },
        )
        SigningKey.objects.filter(pk__in=[k.pk for k in previous if k.pk != key.pk]).update(
            state=SigningKey.State.RETIRING, retiring_at=now
        )
        transaction.on_commit(_forget_active_kid)
    _loaded_keys[key.kid] = LoadedKey(key.kid, private_key)
    return key


def _forget_active_kid() -> None:
    # With a shared cache (Redis) every process signs with the new key at once; with a per-process cache,
    # other processes follow within ACTIVE_KEY_RECHECK_SECONDS.
    cache.delete(ACTIVE_KEY_CACHE_KEY)


def _activate_file_key(private_key: rsa.RSAPrivateKey) -> SigningKey:
    """The deployment supplied this key: make it the active one unless it already is."""
    kid = public_jwk_for(private_key)["kid"]
    current = SigningKey.objects.filter(kid=kid, state=SigningKey.State.ACTIVE).first()
    if current is None:
        logger.info("signing_key event=activated source=file kid=%s", kid)
        current = _store(private_key, source="file")
    _loaded_keys[kid] = LoadedKey(kid, private_key)
    return current


def signing_key_ensure() -> SigningKey:
    """Make sure there is an active key: the deployment's file key if configured, else one in the database."""
    file_key = _load_file_key()
    if file_key is not None:
        return _activate_file_key(file_key)
    current = SigningKey.objects.filter(state=SigningKey.State.ACTIVE).first()
    if current is not None and current.source == "database":
        return current
    # None yet, or the deployment stopped supplying a file: this process could not sign with that one.
    return signing_key_generate()


def signing_key_generate() -> SigningKey:
    """Generate a fresh RSA key and make it the active one."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=_issuer_settings()["RSA_KEY_BITS"])
    key = _store(private_key, source="database")
    logger.info("signing_key event=generated kid=%s", key.kid)
    return key


def signing_key_rotate() -> SigningKey:
    """Start signing with a new key at once. The old one stays published until its tokens have expired;
    retiring keys that are due are retired now (rotation is one of the moments retirement happens)."""
    if _issuer_settings()["SIGNING_KEY_FILE"]:
        raise SigningKeyError("Keys come from SSO_SIGNING_KEY_FILE: rotate by deploying a new file.")
    signing_keys_retire_expired()
    key = signing_key_generate()
    AuditEvent.objects.create(kind=AuditEvent.Kind.KEY_ROTATED, detail=f"kid={key.kid}")
    logger.info("signing_key event=rotated kid=%s", key.kid)
    return key


def retire_after() -> timedelta:
    """How long a retiring key must stay published: the longest a token it signed can live (access tokens,
    and service tokens, which the same keys sign)."""
    return max(settings.ACCESS_TOKEN_LIFETIME, settings.SSO_SERVICE_TOKEN_LIFETIME) + RETIRE_MARGIN


def signing_key_retire(*, key: SigningKey, force: bool = False) -> bool:
    """Stop publishing a retiring key. Refused while tokens it signed may be live, unless forced."""
    due = SigningKey.objects.filter(pk=key.pk, state=SigningKey.State.RETIRING)
    if not force:
        due = due.filter(retiring_at__lte=clock.now() - retire_after())
    # A conditional update, so two concurrent retirements (cron and an admin) record one event.
    if not due.update(state=SigningKey.State.RETIRED, retired_at=clock.now()):
        return False
    # A forced retirement may come seconds after a rotation: no process should keep signing with it.
    transaction.on_commit(_forget_active_kid)
    AuditEvent.objects.create(kind=AuditEvent.Kind.KEY_RETIRED, detail=f"kid={key.kid}")
    logger.info("signing_key event=retired kid=%s forced=%s", key.kid, force)
    return True


def signing_keys_retire_expired() -> list[str]:
    """Retire every retiring key whose tokens have all expired. Safe to call often."""
    deadline = clock.now() - retire_after()
    due = SigningKey.objects.filter(state=SigningKey.State.RETIRING, retiring_at__lte=deadline)
    return [key.kid for key in due if signing_key_retire(key=key)]


def _active_kid() -> str:
    kid = cache.get(ACTIVE_KEY_CACHE_KEY)
    if kid is None:
        kid = signing_key_ensure().kid
        cache.set(ACTIVE_KEY_CACHE_KEY, kid, timeout=ACTIVE_KEY_RECHECK_SECONDS)
    return kid


def _file_signing_key() -> LoadedKey:
    """With SSO_SIGNING_KEY_FILE, a process signs with the key in its own file, whatever other processes
    hold: during a rolling deploy old and new processes hold different files, and each must sign with a
    key it has. Its key is activated when the process first signs, and is re-checked every few seconds:
    a retiring key still in use here has its retirement pushed back (its tokens keep coming), and one
    retired while still in use (a rollback) is published again."""
    state = _file_key
    if state.loaded is not None and clock.now().timestamp() - state.checked_at < ACTIVE_KEY_RECHECK_SECONDS:
        return state.loaded
    with _loaded_lock:
        if state.loaded is None:
            row = _activate_file_key(_load_file_key())
            state.loaded = _loaded_keys[row.kid]
        else:
            kid = state.loaded.kid
            row = SigningKey.objects.filter(kid=kid).first()
            if row is None or row.state == SigningKey.State.RETIRED:
                logger.warning("signing_key event=republished source=file kid=%s", kid)
                _store(state.loaded.private_key, source="file")
            elif row.state == SigningKey.State.RETIRING:
                SigningKey.objects.filter(pk=row.pk, state=SigningKey.State.RETIRING).update(retiring_at=clock.now())
        state.checked_at = clock.now().timestamp()
    return state.loaded


def active_signing_key() -> LoadedKey:
    """The key to sign with now, loaded once per process."""
    if _issuer_settings()["SIGNING_KEY_FILE"]:
        return _file_signing_key()
    kid = _active_kid()
    loaded = _loaded_keys.get(kid)
    if loaded is not None:
        return loaded
    with _loaded_lock:
        if kid not in _loaded_keys:
            row = SigningKey.objects.get(kid=kid)
            if row.source != "database":
                raise SigningKeyError("The active key lives in a file this process is not configured with.")
            private_key = _require_rsa(
                serialization.load_pem_private_key(row.private_pem_encrypted.encode(), password=_passphrase())
            )
            _loaded_keys[kid] = LoadedKey(kid, private_key)
    return _loaded_keys[kid]


def published_jwks() -> dict[str, Any]:
    """The JWKS: the active key and every retiring one still inside its retirement window, public members
    only, read from the database.

    A read never writes (no key is generated or retired here: the JWKS and the revocation list are polled
    by every relying process). A retiring key leaves the JWKS at its deadline whether or not its row has
    been marked retired yet; rotation, `manage.py retire_signing_keys` and the admin mark it."""
    deadline = clock.now() - retire_after()
    in_window = Q(retiring_at__isnull=True) | Q(retiring_at__gt=deadline)
    published = SigningKey.objects.filter(
        Q(state=SigningKey.State.ACTIVE) | Q(in_window, state=SigningKey.State.RETIRING)
    )
    # Active first, so a reader that takes the first key takes the current one.
    rows = sorted(published, key=lambda row: row.state != SigningKey.State.ACTIVE)
    return {"keys": [row.public_jwk for row in rows]}


def published_kids() -> list[str]:
    """The kids of the JWKS, active first."""
    return [jwk["kid"] for jwk in published_jwks()["keys"]]
