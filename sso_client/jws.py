"""Reading a compact JWS, shared by every verifier (relying apps and the issuer's own API): shape checks
before any key is used, and PyJWT extended at its seam so that a verification decodes each segment once and
parses the payload once.

The shapes: exactly three segments; a header and a payload that are JSON objects in which no member appears
twice; nesting the JSON decoder survives; registered claims of the types RFC 7519 gives them. PyJWT checks
values, not shapes. Duplicate members are a parser differential (RFC 7515 section 5.2 allows refusing them):
a reader that keeps the first `token_type` and one that keeps the last see different tokens. A string `exp`
passes PyJWT's int() and then breaks whatever compares it with a number; a string `iat` passes unchecked.
Refusing odd shapes outright means a token is either read whole or not at all.

The seam (`ShapeCheckedJWT`, checked against PyJWT 2.15.1, the version requirements.txt pins;
tests/sso_client/test_jws_seam.py fails when a new PyJWT moves it): PyJWS's base64url segment decoding,
whose alphabet check is a Python loop over every byte, is done with `bytes.translate` in C with the same
strictness; PyJWS's segment reader reads the header segment (the same for every token of one key) once per
key; and PyJWT's payload parse is the shape-checking parse, so the payload is parsed once, after the
signature (an unsigned payload is never parsed at all). The signature itself stays PyJWT's and
cryptography's."""

import binascii
import functools
import json
import math
from typing import Any

import jwt
from jwt.exceptions import DecodeError
from jwt.utils import base64url_decode

NUMERIC_DATES = ("exp", "iat", "nbf")
STRINGS = ("iss", "sub", "jti", "sid", "token_type", "username", "scope")
PYJWT_SEAM_VERSION = "2.15.1"
BASE64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")
_TO_URL_ALPHABET = bytes.maketrans(b"+/", b"-_")
_PADDING = (b"", b"", b"==", b"=")  # by length modulo 4 (1 is refused before decoding)


class MalformedToken(ValueError):
    """The token is not a well-formed compact JWS with sensibly typed claims."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise MalformedToken("duplicate member")
    return members


# Built once: json.loads(..., object_pairs_hook=...) would build a decoder (and its scanner) on every call.
_decoder = json.JSONDecoder(object_pairs_hook=_unique_members)


def _json_object_from(data: bytes) -> dict[str, Any]:
    try:
        value = _decoder.decode(data.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and MalformedToken are ValueErrors
        raise MalformedToken("segment is not a JSON object") from e
    if not isinstance(value, dict):
        raise MalformedToken("segment is not a JSON object")
    return value


def _json_object(segment: str) -> dict[str, Any]:
    try:
        data = base64url_decode(segment)
    except (ValueError, binascii.Error) as e:
        raise MalformedToken("segment is not a JSON object") from e
    return _json_object_from(data)


@functools.lru_cache(maxsize=64)
def _header_check(segment: str) -> None:
    # Every token signed by one key has the same header segment: checked once per key, not per token.
    # Refusals raise, and exceptions are never cached.
    _json_object(segment)


def _is_numeric_date(value: Any) -> bool:
    # Exact types (what a JSON parser makes): a bool is an int subclass, and no JSON number is anything else.
    kind = type(value)
    return kind is int or (kind is float and math.isfinite(value))


def claims_shape_check(claims: dict[str, Any]) -> None:
    """Registered and contract claims, when present, have their types: NumericDates, strings, `aud` a string
    or a list of strings, `roles` a list of strings, `staff` a boolean."""
    for name in NUMERIC_DATES:
        if name in claims and not _is_numeric_date(claims[name]):
            raise MalformedToken(f"{name} is not a NumericDate")
    for name in STRINGS:
        if name in claims and not isinstance(claims[name], str):
            raise MalformedToken(f"{name} is not a string")
    aud = claims.get("aud", "")
    if not isinstance(aud, str) and not (isinstance(aud, list) and all(isinstance(a, str) for a in aud)):
        raise MalformedToken("aud is not a string or a list of strings")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise MalformedToken("roles is not a list of strings")
    if not isinstance(claims.get("staff", False), bool):
        raise MalformedToken("staff is not a boolean")


def compact_jws_check(raw: str) -> None:
    """Raise MalformedToken unless `raw` is three segments of well-formed, duplicate-free JSON objects with
    well-typed claims. Says nothing about the signature: that is the verifier's next step."""
    segments = raw.split(".")
    if len(segments) != 3:
        raise MalformedToken("not three segments")
    _header_check(segments[0])
    claims_shape_check(_json_object(segments[1]))


class Base64urlJWS(jwt.PyJWS):
    """PyJWS whose segment decoding checks the alphabet in C (`bytes.translate`) instead of a Python loop
    over every byte: the same rules, in the same order, with the same errors (GHSA-hxm8-2xgr-2p9m's junk
    refused, up to two trailing `=` accepted only with a length that is a multiple of four, no length that
    is 1 modulo 4, no non-canonical final character)."""

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        stripped = segment.rstrip(b"=")
        padding = len(segment) - len(stripped)
        if (
            padding > 2
            or (padding and len(segment) % 4 != 0)
            or len(stripped) % 4 == 1
            or stripped.translate(None, BASE64URL_ALPHABET)
        ):
            raise DecodeError(f"Invalid {name} padding")
        # The alphabet is settled, so the standard alphabet's decoder cannot fail; the re-encoding refuses a
        # last character whose unused bits are set (two spellings of one token).
        decoded = binascii.a2b_base64(stripped.translate(_TO_STANDARD_ALPHABET) + _PADDING[len(stripped) % 4])
        if binascii.b2a_base64(decoded, newline=False).translate(_TO_URL_ALPHABET).rstrip(b"=") != stripped:
            raise DecodeError(f"Invalid {name} padding")
        return decoded

    def _load(self, jwt: str | bytes) -> tuple[bytes, bytes, dict[str, Any], bytes]:
        # PyJWS._load, the header read through _read_header: every token signed by one key has the same
        # header segment, so it is decoded and parsed once per key, not once per token.
        if isinstance(jwt, str):
            jwt = jwt.encode("utf-8")
        if not isinstance(jwt, bytes):
            raise DecodeError(f"Invalid token type. Token must be a {bytes}")
        try:
            signing_input, crypto_segment = jwt.rsplit(b".", 1)
            header_segment, payload_segment = signing_input.split(b".", 1)
        except ValueError as err:
            raise DecodeError("Not enough segments") from err
        header = dict(_read_header(header_segment))  # a copy: the cached one is never handed out
        if header.get("b64", True) is False:
            # Detached payload form (RFC 7515 Appendix F): PyJWS refuses a compact payload without decoding it.
            if payload_segment:
                raise DecodeError("Payload segment must be empty when 'b64' is false.")
            payload = b""
        else:
            payload = self._decode_base64url_segment(payload_segment, "payload")
        signature = self._decode_base64url_segment(crypto_segment, "crypto")
        return (payload, signing_input, header, signature)


@functools.lru_cache(maxsize=64)
def _read_header(segment: bytes) -> dict[str, Any]:
    """A header segment as PyJWS._load reads it. Bounded, so made-up headers only evict entries; refusals
    raise and are never cached."""
    header_data = Base64urlJWS._decode_base64url_segment(segment, "header")
    try:
        header = json.loads(header_data)
    except (ValueError, RecursionError) as e:
        raise DecodeError(f"Invalid header string: {e}") from e
    if not isinstance(header, dict):
        raise DecodeError("Invalid header string: must be a json object")
    return header


class ShapeCheckedJWT(jwt.PyJWT):
    """PyJWT on Base64urlJWS whose payload parse is the shape-checking one: duplicate members, hostile nesting
    and odd claim types raise MalformedToken before any claim is validated, and the payload is parsed once."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self._jws = Base64urlJWS(options=self._get_sig_options())

    def _decode_payload(self, decoded: dict[str, Any]) -> dict[str, Any]:
        claims = _json_object_from(decoded["payload"])
        claims_shape_check(claims)
        return claims


shape_checked_jwt = ShapeCheckedJWT()


def header_read(segment: str) -> dict[str, Any]:
    """The JOSE header in a token's first segment, as PyJWT reads it (kid a string, crit understood), and
    refused unless it is a duplicate-free JSON object: what a verifier reads to pick the key."""
    _header_check(segment)
    return shape_checked_jwt._jws.get_unverified_header(segment + "..")
