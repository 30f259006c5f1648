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
key; PyJWT's payload parse is the shape-checking parse, so the payload is parsed once, after the signature (an
unsigned payload is never parsed at all); and PyJWT's claim validation runs in one pass on the types that
parse settled, with PyJWT's checks, order and errors. The signature itself stays PyJWT's and
cryptography's."""

import binascii
import functools
import json
import math
import time
from collections.abc import Container, Iterable
from datetime import timedelta
from typing import Any

import jwt
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSubjectError,
    MissingRequiredClaimError,
)
from jwt.utils import base64url_decode

NUMERIC_DATES = ("exp", "iat", "nbf")
STRINGS = ("iss", "sub", "jti", "sid", "token_type", "username", "scope")
_NUMERIC_DATE_NAMES = frozenset(NUMERIC_DATES)
_STRING_NAMES = frozenset(STRINGS)
_STR_TYPE = frozenset((str,))
PYJWT_SEAM_VERSION = "2.15.1"
BASE64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")  # by length modulo 4 (1 is refused before decoding)
# By length modulo 4: of the last character's six bits, those that carry no data (2: 8 bits in 12; 3: 16 in 18).
_UNUSED_BITS = (0, 0, 0b1111, 0b11)


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


def _only_strings(values: list[Any]) -> bool:
    # Exact types, like _is_numeric_date; the types are collected in C, not by a generator.
    return _STR_TYPE.issuperset(map(type, values))


def claims_shape_check(claims: dict[str, Any]) -> None:
    """Registered and contract claims, when present, have their types: NumericDates, strings, `aud` a string
    or a list of strings, `roles` a list of strings, `staff` a boolean."""
    # Only the names present are looked at: a set intersection with the keys, in C.
    for name in claims.keys() & _NUMERIC_DATE_NAMES:
        if not _is_numeric_date(claims[name]):
            raise MalformedToken(f"{name} is not a NumericDate")
    for name in claims.keys() & _STRING_NAMES:
        if not isinstance(claims[name], str):
            raise MalformedToken(f"{name} is not a string")
    aud = claims.get("aud", "")
    if not isinstance(aud, str) and not (isinstance(aud, list) and _only_strings(aud)):
        raise MalformedToken("aud is not a string or a list of strings")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not _only_strings(roles):
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
        # A last character whose unused bits are set is refused (two spellings of one token): its value in the
        # alphabet, masked by the bits its position leaves unused.
        remainder = len(stripped) % 4
        if remainder and BASE64URL_ALPHABET.index(stripped[-1]) & _UNUSED_BITS[remainder]:
            raise DecodeError(f"Invalid {name} padding")
        # The alphabet is settled, so the standard alphabet's decoder cannot fail.
        return binascii.a2b_base64(stripped.translate(_TO_STANDARD_ALPHABET) + _PADDING[remainder])

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

    def _validate_claims(
        self,
        payload: dict[str, Any],
        options: dict[str, Any],
        audience: Iterable[str] | str | None = None,
        issuer: Container[str] | str | None = None,
        subject: str | None = None,
        leeway: float | timedelta = 0,
    ) -> None:
        # PyJWT._validate_claims in one pass: the same checks, in the same order, with the same errors. It
        # always runs after _decode_payload, so the types PyJWT checks claim by claim (dates that int() takes,
        # string iss, sub and jti, aud a string or a list of strings) are settled by claims_shape_check, and
        # what is left of each check is its comparison. time.time() is the clock PyJWT reads through
        # datetime.now(tz=timezone.utc).timestamp(), without building a datetime.
        if isinstance(leeway, timedelta):
            leeway = leeway.total_seconds()
        if audience is not None and not isinstance(audience, str | Iterable):
            raise TypeError("audience must be a string, iterable or None")
        for claim in options["require"]:
            if payload.get(claim) is None:
                raise MissingRequiredClaimError(claim)
        now = time.time()
        if "iat" in payload and options["verify_iat"] and int(payload["iat"]) > now + leeway:
            raise ImmatureSignatureError("The token is not yet valid (iat)")
        if "nbf" in payload and options["verify_nbf"] and int(payload["nbf"]) > now + leeway:
            raise ImmatureSignatureError("The token is not yet valid (nbf)")
        if "exp" in payload and options["verify_exp"] and int(payload["exp"]) <= now - leeway:
            raise ExpiredSignatureError("Signature has expired")
        if options["verify_iss"] and issuer is not None:
            if "iss" not in payload:
                raise MissingRequiredClaimError("iss")
            if isinstance(issuer, str):
                if payload["iss"] != issuer:
                    raise InvalidIssuerError("Invalid issuer")
            else:
                self._validate_iss(payload, issuer)  # a container of issuers: PyJWT's own check, as it is
        if options["verify_aud"]:
            if options.get("strict_aud", False):
                self._validate_aud(payload, audience, strict=True)
            else:
                _audience_check(payload.get("aud"), audience)
        if options["verify_sub"] and subject is not None and "sub" in payload and payload["sub"] != subject:
            raise InvalidSubjectError("Invalid subject")


def _audience_check(claimed: str | list[str] | None, audience: Iterable[str] | str | None) -> None:
    """PyJWT's non-strict `aud` check (PyJWT._validate_aud) on a claim of settled shape."""
    if audience is None:
        if claimed:
            raise InvalidAudienceError("Invalid audience")
        return
    if not claimed:
        raise MissingRequiredClaimError("aud")
    if isinstance(claimed, str):
        claimed = [claimed]
    if isinstance(audience, str):
        if audience not in claimed:
            raise InvalidAudienceError("Audience doesn't match")
    elif all(aud not in claimed for aud in audience):
        raise InvalidAudienceError("Audience doesn't match")


shape_checked_jwt = ShapeCheckedJWT()


@functools.lru_cache(maxsize=16)
def shape_checked_jwt_requiring(required: tuple[str, ...]) -> ShapeCheckedJWT:
    """A ShapeCheckedJWT whose options require these claims (and take `aud` as a string or a list), made once
    per kind of token: options given to the constructor are merged once, those given to decode() on every
    call."""
    return ShapeCheckedJWT(options={"require": list(required), "strict_aud": False})


def header_read(segment: str) -> dict[str, Any]:
    """The JOSE header in a token's first segment, as PyJWT reads it (kid a string, crit understood), and
    refused unless it is a duplicate-free JSON object: what a verifier reads to pick the key."""
    _header_check(segment)
    return shape_checked_jwt._jws.get_unverified_header(segment + "..")
