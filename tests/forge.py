"""Building hostile JWTs by hand: any header, any payload bytes (duplicate keys, deep nesting), any signature.

PyJWT refuses to produce most of these (an HMAC keyed with a PEM, `alg: none`), which is exactly why an
attacker would not use it; the pieces here are the standard library's and PyJWT's base64url helper."""

import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.utils import base64url_decode, base64url_encode

HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64(data: bytes | str) -> str:
    return base64url_encode(data.encode() if isinstance(data, str) else data).decode()


def segment(part: dict[str, Any] | str | bytes) -> str:
    """A JSON object, or raw JSON text (for what json.dumps cannot write, such as duplicate keys)."""
    if isinstance(part, dict):
        part = json.dumps(part, separators=(",", ":"))
    return b64(part)


def signing_input(header: dict[str, Any] | str | bytes, payload: dict[str, Any] | str | bytes) -> str:
    return f"{segment(header)}.{segment(payload)}"


def with_signature(header, payload, signature: bytes) -> str:
    return f"{signing_input(header, payload)}.{b64(signature)}"


def rs256(header, payload, key: rsa.RSAPrivateKey, *, hash_name: str = "sha256") -> str:
    """Sign with an RSA key (PKCS#1 v1.5), whatever the header says."""
    message = signing_input(header, payload)
    digest = {"sha256": hashes.SHA256(), "sha512": hashes.SHA512()}[hash_name]
    return f"{message}.{b64(key.sign(message.encode(), padding.PKCS1v15(), digest))}"


def ps256(header, payload, key: rsa.RSAPrivateKey) -> str:
    message = signing_input(header, payload)
    signature = key.sign(
        message.encode(), padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
    )
    return f"{message}.{b64(signature)}"


def hmac_signed(header, payload, secret: bytes) -> str:
    """HMAC over the signing input with `secret` as the key, with the digest the header's `alg` names."""
    message = signing_input(header, payload)
    alg = header["alg"] if isinstance(header, dict) else "HS256"
    mac = hmac.new(secret, message.encode(), HMAC_DIGESTS[alg]).digest()
    return f"{message}.{b64(mac)}"


def parts(token: str) -> tuple[str, str, str]:
    header, payload, signature = token.split(".")
    return header, payload, signature


def decoded(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    header, payload, signature = parts(token)
    return (
        json.loads(base64url_decode(header)),
        json.loads(base64url_decode(payload)),
        base64url_decode(signature),
    )


def flip_bit(data: bytes, index: int) -> bytes:
    flipped = bytearray(data)
    flipped[index // 8] ^= 1 << (index % 8)
    return bytes(flipped)
