"""Signing-key lifecycle: generate, load, publish, rotate, retire. The only module that reads a private key."""

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
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_encode

from . import clock
from .models import AuditEvent, SigningKey

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
JWKS_CACHE_KEY = "issuer:jwks"
ACTIVE_KEY_CACHE_KEY = "issuer:active-kid"


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
        transaction.on_commit(_forget_published_keys)
    _loaded_keys[key.kid] = LoadedKey(key.kid, private_key)
    return key


def _forget_published_keys() -> None:
    cache.delete_many([JWKS_CACHE_KEY, ACTIVE_KEY_CACHE_KEY])


def signing_key_ensure() -> SigningKey:
    """Make sure there is an active key: the deployment's file key if configured, else one in the database."""
    file_key = _load_file_key()
    if file_key is not None:
        kid = public_jwk_for(file_key)["kid"]
        current = SigningKey.objects.filter(kid=kid, state=SigningKey.State.ACTIVE).first()
        if current is not None:
            _loaded_keys[kid] = LoadedKey(kid, file_key)
            return current
        logger.info("signing_key event=activated source=file kid=%s", kid)
        return _store(file_key, source="file")
    current = SigningKey.objects.filter(state=SigningKey.State.ACTIVE).first()
    if current is not None:
        return current
    return signing_key_generate()


def signing_key_generate() -> SigningKey:
    """Generate a fresh RSA key and make it the active one."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=_issuer_settings()["RSA_KEY_BITS"])
    key = _store(private_key, source="database")
    logger.info("signing_key event=generated kid=%s", key.kid)
    return key


def signing_key_rotate() -> SigningKey:
    """Start signing with a new key at once. The old one stays published until its tokens have expired."""
    if _issuer_settings()["SIGNING_KEY_FILE"]:
        raise SigningKeyError("Keys come from SSO_SIGNING_KEY_FILE: rotate by deploying a new file.")
    key = signing_key_generate()
    AuditEvent.objects.create(kind=AuditEvent.Kind.KEY_ROTATED, detail=f"kid={key.kid}")
    return key


def retire_after() -> timedelta:
    """How long a retiring key must stay published: the longest an access token it signed can live."""
    return settings.ACCESS_TOKEN_LIFETIME + timedelta(seconds=60)


def signing_key_retire(*, key: SigningKey, force: bool = False) -> bool:
    """Stop publishing a retiring key. Refused while tokens it signed may be live, unless forced."""
    if key.state != SigningKey.State.RETIRING:
        return False
    if not force and key.retiring_at and key.retiring_at + retire_after() > clock.now():
        return False
    SigningKey.objects.filter(pk=key.pk).update(state=SigningKey.State.RETIRED, retired_at=clock.now())
    _forget_published_keys()
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
        # A short lifetime bounds how long another process keeps signing with a key that was just
        # rotated out; that key is still published, so those tokens verify everywhere.
        cache.set(ACTIVE_KEY_CACHE_KEY, kid, timeout=5)
    return kid


def active_signing_key() -> LoadedKey:
    """The key to sign with now, loaded once per process."""
    kid = _active_kid()
    loaded = _loaded_keys.get(kid)
    if loaded is not None:
        return loaded
    with _loaded_lock:
        if kid not in _loaded_keys:
            row = SigningKey.objects.get(kid=kid)
            if row.source == "file":
                private_key = _load_file_key()
                if private_key is None or public_jwk_for(private_key)["kid"] != kid:
                    raise SigningKeyError("The active key's file is not configured in this process.")
            else:
                private_key = _require_rsa(
                    serialization.load_pem_private_key(row.private_pem_encrypted.encode(), password=_passphrase())
                )
            _loaded_keys[kid] = LoadedKey(kid, private_key)
    return _loaded_keys[kid]


def published_jwks() -> dict[str, Any]:
    """The JWKS: the active key and every retiring one, public members only."""
    jwks = cache.get(JWKS_CACHE_KEY)
    if jwks is None:
        _active_kid()
        rows = SigningKey.objects.filter(state__in=[SigningKey.State.ACTIVE, SigningKey.State.RETIRING])
        # Active first, so a reader that takes the first key takes the current one.
        rows = sorted(rows, key=lambda row: row.state != SigningKey.State.ACTIVE)
        jwks = {"keys": [row.public_jwk for row in rows]}
        cache.set(JWKS_CACHE_KEY, jwks, timeout=60)
    return jwks
