"""The PyJWT seam of sso_client.jws: checked against one PyJWT version, and failing loudly when a new PyJWT
moves the methods it overrides or when the overrides stop behaving exactly like PyJWT's own."""

import base64
import inspect
import itertools
import json
import re
import time
from pathlib import Path

import jwt
import pytest

from sso_client import jws
from sso_client.jws import PYJWT_SEAM_VERSION, Base64urlJWS, MalformedToken, shape_checked_jwt
from sso_client.verify import TokenRejected, token_verify
from tests.keys import ISSUER, mint_token, private_key

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"
DECODE_ARGS = {"algorithms": ["RS256"], "audience": "orders", "issuer": ISSUER, "options": {"require": ["exp"]}}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_installed_pyjwt_is_the_version_the_seam_was_checked_against():
    pinned = re.search(r"^PyJWT==(\S+)", REQUIREMENTS.read_text(), re.MULTILINE).group(1)
    assert jwt.__version__ == pinned == PYJWT_SEAM_VERSION, (
        f"PyJWT {jwt.__version__} is installed, {pinned} pinned, and sso_client.jws was checked against "
        f"{PYJWT_SEAM_VERSION}: read jwt/api_jws.py and jwt/api_jwt.py of the new version, check the overridden "
        "methods still mean the same, then update PYJWT_SEAM_VERSION"
    )


def test_the_overridden_methods_exist_with_the_signatures_they_were_written_for():
    segment_decoder = inspect.getattr_static(jwt.PyJWS, "_decode_base64url_segment")
    assert isinstance(segment_decoder, staticmethod)
    assert list(inspect.signature(jwt.PyJWS._decode_base64url_segment).parameters) == ["segment", "name"]
    assert list(inspect.signature(jwt.PyJWS._load).parameters) == ["self", "jwt"]
    assert list(inspect.signature(jwt.PyJWT._decode_payload).parameters) == ["self", "decoded"]
    assert list(inspect.signature(jwt.PyJWT.__init__).parameters) == ["self", "options"]
    assert isinstance(jwt.PyJWT().__dict__["_jws"], jwt.PyJWS), "PyJWT keeps its PyJWS in self._jws"
    assert isinstance(shape_checked_jwt._jws, Base64urlJWS)


def test_every_segment_goes_through_the_overridden_decoder(monkeypatch):
    seen = []
    original = Base64urlJWS._decode_base64url_segment

    def counted(segment: bytes, name: str) -> bytes:
        seen.append(name)
        return original(segment, name)

    monkeypatch.setattr(Base64urlJWS, "_decode_base64url_segment", staticmethod(counted))
    jws._read_header.cache_clear()
    for _ in range(2):
        shape_checked_jwt.decode(mint_token(), private_key("main").public_key(), **DECODE_ARGS)
    # The header segment, the same for every token of one key, is decoded once per key.
    assert seen == ["header", "payload", "crypto", "payload", "crypto"]


def test_the_payload_is_parsed_once_per_verification(monkeypatch):
    raw = mint_token()
    token_verify(mint_token())  # the header (the same for every token of the key) is now cached
    payload = base64.urlsafe_b64decode(raw.split(".")[1] + "==").decode()
    parses = []
    decode = json.JSONDecoder.decode  # what json.loads and every JSONDecoder call

    def counted(decoder: json.JSONDecoder, text: str, *args) -> object:
        parses.append(text)
        return decode(decoder, text, *args)

    monkeypatch.setattr(json.JSONDecoder, "decode", counted)
    token_verify(raw)
    assert [text for text in parses if text == payload] == [payload]


def _segment_corpus() -> list[bytes]:
    real = [segment.encode() for segment in mint_token().split(".")]
    odd = "=+/.!~ \n\t\x00é"
    corpus = [
        *real,
        *(segment + b"=" * n for segment in real for n in range(1, 5)),
        *(segment[:-1] for segment in real),  # lengths 1 modulo 4 and non-canonical endings
        *(segment[:10] + char.encode() + segment[10:] for segment in real[:1] for char in odd),
        b"",
        b"=",
        b"==",
        b"====",
        b"!!!!",
        b"QQ",
        b"QR",  # non-canonical: its last character carries bits that do not decode
        b"QQ==",
        b"QR==",
        b"QUI",
        b"QUJ",
        b"QUI=",
        b"QUI==",
        b"\xff\xfe",
    ]
    # Every segment of up to three characters over the alphabet's edges and the characters PyJWT refuses.
    edges = "AQgw_-9azZ" + odd
    for length in range(4):
        corpus += ["".join(chars).encode() for chars in itertools.product(edges, repeat=length)]
    corpus += ["".join(chars).encode() for chars in itertools.product("AQw_=+!", repeat=4)]
    return corpus


def _outcome(decoder, segment: bytes) -> tuple[str, object]:
    try:
        return "ok", decoder(segment, "payload")
    except jwt.DecodeError as e:
        return "DecodeError", str(e)


def test_the_segment_decoder_answers_exactly_as_pyjwts_on_good_and_hostile_segments():
    corpus = _segment_corpus()
    assert len(corpus) > 10_000  # every edge case is in, not a sample
    differences = [
        segment
        for segment in corpus
        if _outcome(Base64urlJWS._decode_base64url_segment, segment)
        != _outcome(jwt.PyJWS._decode_base64url_segment, segment)
    ]
    assert differences == []


def _token_corpus() -> list[str]:
    good = mint_token(aud=["orders"])
    header, payload, signature = good.split(".")
    now = int(time.time())
    alg_none = b64(json.dumps({"alg": "none"}).encode())
    return [
        good,
        mint_token(),
        mint_token(exp=now - 600, iat=now - 900),
        mint_token(iss="http://evil"),
        mint_token(aud=["products"]),
        mint_token(exp=None),
        mint_token(nbf=now + 600),
        mint_token(iat=now + 600),
        mint_token(key="attacker"),
        f"{header}.{payload}.{signature[:-2]}",
        f"{header}.{payload}.{signature}=",
        f"{header}.{payload}.{signature}==",
        f"{header}=.{payload}.{signature}",
        f"{header}.{payload}!.{signature}",
        f"{header}.{payload[:-1]}.{signature}",
        f"{header}.{payload}.",
        f"{header}..{signature}",
        f"{alg_none}.{payload}.",
        f"{b64(b'[1]')}.{payload}.{signature}",
        f"{b64(b'not json')}.{payload}.{signature}",
        f"{header}.{payload}",
        f"{header}.{payload}.{signature}.x",
        "é.é.é",
        "",
    ]


def test_the_segment_reader_answers_exactly_as_pyjwts_on_good_and_hostile_tokens():
    def loaded(jws_object: jwt.PyJWS, raw: str) -> tuple[str, object]:
        try:
            return "ok", jws_object._load(raw)
        except jwt.DecodeError as e:
            return "DecodeError", str(e)

    detached = f"{b64(json.dumps({'alg': 'RS256', 'b64': False, 'crit': ['b64']}).encode())}..c2ln"
    for raw in [*_token_corpus(), detached, detached.replace("..", ".eyJ9.")]:
        assert loaded(shape_checked_jwt._jws, raw) == loaded(jwt.PyJWS(), raw), raw


def _decoded(decoder, raw: str) -> tuple[str, object]:
    try:
        return "ok", decoder(raw, private_key("main").public_key(), **DECODE_ARGS)
    except jwt.InvalidTokenError as e:
        return type(e).__name__, str(e)


def test_the_seam_decodes_exactly_as_pyjwt_on_good_and_hostile_tokens():
    corpus = _token_corpus()
    outcomes = [(_decoded(shape_checked_jwt.decode, raw), _decoded(jwt.decode, raw)) for raw in corpus]
    assert all(ours == theirs for ours, theirs in outcomes), [pair for pair in outcomes if pair[0] != pair[1]]
    accepted = [raw for raw, (ours, _) in zip(corpus, outcomes, strict=True) if ours[0] == "ok"]
    # The two good tokens, and the first again with its signature's padding (PyJWT accepts trailing `=`).
    assert len(accepted) == 3 and accepted[2].endswith("==")


@pytest.mark.parametrize(
    "payload",
    [
        b'{"sub":"2","token_type":"access","token_type":"refresh"}',  # a parser differential
        b'{"sub":"2","exp":"9999999999"}',  # PyJWT's int() takes it
        b'{"sub":"2","roles":"admin"}',
        b'{"sub":2}',
        b'{"sub":"2","staff":"yes"}',
        b"[" * 2500 + b"]" * 2500,  # nesting the decoder does not survive, within MAX_TOKEN_BYTES
        b'"a string"',
        b"\xff\xfe",
    ],
)
def test_the_seam_is_stricter_than_pyjwt_on_shapes_only_when_signed(payload):
    header = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "test-main"}).encode())
    signing_input = f"{header}.{b64(payload)}"
    options = {"verify_aud": False, "verify_iss": False, "verify_exp": False}

    def signed_with(key_name: str) -> str:
        algorithm = jwt.get_algorithm_by_name("RS256")
        return f"{signing_input}.{b64(algorithm.sign(signing_input.encode(), private_key(key_name)))}"

    with pytest.raises(MalformedToken):
        shape_checked_jwt.decode(
            signed_with("main"), private_key("main").public_key(), algorithms=["RS256"], options=options
        )
    # Signed by anyone else, the payload is never parsed: the signature refuses it first.
    with pytest.raises(jwt.InvalidSignatureError):
        shape_checked_jwt.decode(
            signed_with("attacker"), private_key("main").public_key(), algorithms=["RS256"], options=options
        )
    with pytest.raises(TokenRejected) as info:
        token_verify(signed_with("main"))
    assert info.value.reason == "malformed"


def test_the_module_names_the_version_it_was_checked_against():
    assert PYJWT_SEAM_VERSION in jws.__doc__


def test_made_up_headers_of_a_known_key_cannot_grow_the_header_cache():
    jws._read_header.cache_clear()
    payload = mint_token().split(".")[1]
    for n in range(200):
        header = b64(json.dumps({"alg": "RS256", "kid": "test-main", "x": n}).encode())
        with pytest.raises(TokenRejected):
            token_verify(f"{header}.{payload}.c2ln")
    assert jws._read_header.cache_info().currsize <= jws._read_header.cache_info().maxsize == 64


def _validated(validate, claims: dict, options: dict, **arguments) -> tuple[str, str]:
    try:
        validate(claims, options, **arguments)
    except (jwt.InvalidTokenError, TypeError) as e:
        return type(e).__name__, str(e)
    return "ok", ""


def test_the_one_pass_claim_validation_answers_exactly_as_pyjwts():
    assert list(inspect.signature(jwt.PyJWT._validate_claims).parameters) == [
        "self",
        "payload",
        "options",
        "audience",
        "issuer",
        "subject",
        "leeway",
    ]
    now = int(time.time())
    claim_sets = [
        {"iss": ISSUER, "sub": "2", "aud": ["orders", "sso"], "exp": now + 60, "iat": now, "jti": "j"},
        {"iss": ISSUER, "sub": "2", "aud": "orders", "exp": now + 60.5, "nbf": now - 1},
        {"iss": "http://evil", "aud": []},
        {"aud": ""},
        {"sub": "3", "exp": now - 10, "iat": now + 10, "nbf": now + 10},
        {"exp": now - 100, "iat": now + 100, "nbf": now + 100, "iss": ISSUER},
        {"exp": now},
        {},
    ]
    option_sets = [
        {},
        {"require": ["exp", "sub"]},
        {"require": ["jti"], "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        {"verify_aud": False, "verify_iss": False, "verify_sub": False},
        {"strict_aud": True},
    ]
    arguments = [
        {"audience": audience, "issuer": issuer, "subject": subject, "leeway": leeway}
        for audience in (None, "orders", ["products", "orders"], "products", 3)
        for issuer in (None, ISSUER, [ISSUER, "http://other"], "http://other")
        for subject in (None, "2")
        for leeway in (0, 30, jws.timedelta(seconds=200))
    ]
    compared = 0
    for claims in claim_sets:
        jws.claims_shape_check(claims)  # the shapes the seam settles before it validates
        for options in option_sets:
            merged = shape_checked_jwt._merge_options(options)
            for argument in arguments:
                ours = _validated(shape_checked_jwt._validate_claims, claims, merged, **argument)
                theirs = _validated(jwt.PyJWT()._validate_claims, claims, merged, **argument)
                assert ours == theirs, (claims, options, argument)
                compared += 1
    assert compared == 4800  # every combination
