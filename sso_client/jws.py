"""Shape checks on a compact JWS before any key is used, shared by every verifier (relying apps and the
issuer's own API): exactly three segments; a header and a payload that are JSON objects in which no member
appears twice; nesting the JSON decoder survives; registered claims of the types RFC 7519 gives them.

PyJWT checks values, not shapes. Duplicate members are a parser differential (RFC 7515 section 5.2 allows
refusing them): a reader that keeps the first `token_type` and one that keeps the last see different tokens.
A string `exp` passes PyJWT's int() and then breaks whatever compares it with a number; a string `iat`
passes unchecked. Refusing odd shapes outright means a token is either read whole or not at all."""

import binascii
import functools
import json
import math
from typing import Any

from jwt.utils import base64url_decode

NUMERIC_DATES = ("exp", "iat", "nbf")
STRINGS = ("iss", "sub", "jti", "sid", "token_type", "username", "scope")


class MalformedToken(ValueError):
    """The token is not a well-formed compact JWS with sensibly typed claims."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _value in pairs]
    if len(names) != len(set(names)):
        raise MalformedToken("duplicate member")
    return dict(pairs)


def _json_object(segment: str) -> dict[str, Any]:
    try:
        text = base64url_decode(segment).decode("utf-8")
        value = json.loads(text, object_pairs_hook=_unique_members)
    except (ValueError, RecursionError, binascii.Error) as e:  # UnicodeDecodeError and MalformedToken are ValueErrors
        raise MalformedToken("segment is not a JSON object") from e
    if not isinstance(value, dict):
        raise MalformedToken("segment is not a JSON object")
    return value


@functools.lru_cache(maxsize=64)
def _header_check(segment: str) -> None:
    # Every token signed by one key has the same header segment: checked once per key, not per token.
    # Refusals raise, and exceptions are never cached.
    _json_object(segment)


def _is_numeric_date(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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
