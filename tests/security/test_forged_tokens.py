"""Forged and malformed access tokens against running sites: both relying apps (Bearer, and orders by cookie)
and the issuer's own API. Every case is one mutation of a token that is otherwise accepted (the control test
proves it), and every case must get a fast, generic 401 that names no library and fetches nothing."""

import datetime
import http.client
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from tests import keys
from tests.security import forge
from tests.security.conftest import assert_refused, issuer_kid, issuer_private_key

# (name, site, path, transport)
TARGETS = [
    ("orders-bearer", "orders", "/api/orders/", "bearer"),
    ("products-bearer", "products", "/api/products/", "bearer"),
    ("orders-cookie", "orders", "/api/orders/", "cookie"),
    ("issuer-bearer", "issuer", "/api/sessions/", "bearer"),
]
AUDIENCE = {"orders": "orders", "products": "products", "issuer": "sso"}
MIB = 1024 * 1024


@dataclass
class Ctx:
    """What a case needs to build its token: the running stack's facts and bob's real sign-on."""

    issuer_url: str
    audience: str
    bob: dict
    jwks_body: bytes
    listener_url: str

    def header(self, **overrides: Any) -> dict:
        header = {"alg": "RS256", "typ": "JWT", "kid": issuer_kid()}
        header.update(overrides)
        return {k: v for k, v in header.items() if v is not DROP}

    def claims(self, **overrides: Any) -> dict:
        now = int(time.time())
        claims = {
            "iss": self.issuer_url,
            "sub": self.bob["sub"],
            # As the issuer issues them: the issuer's own API takes only a token for it alone.
            "aud": ["sso"] if self.audience == "sso" else ["orders", "products"],
            "exp": now + 300,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "token_type": "access",
            "sid": self.bob["sid_claim"],
            "username": "bob",
            "roles": [],
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not DROP}

    def signed(self, header: Any = None, claims: Any = None) -> str:
        """Signed with the issuer's real key: only what the case changed is wrong."""
        return forge.rs256(
            header if header is not None else self.header(), claims or self.claims(), issuer_private_key()
        )

    def attacker_signed(self, header: Any = None, claims: Any = None) -> str:
        return forge.rs256(
            header if header is not None else self.header(), claims or self.claims(), keys.private_key("attacker")
        )

    @property
    def real_jwk(self) -> dict:
        (jwk,) = [k for k in json.loads(self.jwks_body)["keys"] if k["kid"] == issuer_kid()]
        return jwk

    def public_key_encodings(self) -> dict[str, bytes]:
        """The issuer's public key in every form an HS-confusion attacker might try as the HMAC secret."""
        public_key = jwt.PyJWK(self.real_jwk).key
        pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return {
            "pem": pem,
            "pem-no-final-newline": pem.rstrip(b"\n"),
            "pem-crlf": pem.replace(b"\n", b"\r\n"),
            "pkcs1-pem": public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
            "der": public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
            "pkcs1-der": public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1),
            "jwk-json": json.dumps(self.real_jwk).encode(),
            "jwk-json-compact": json.dumps(self.real_jwk, separators=(",", ":")).encode(),
            "jwks-as-served": self.jwks_body,
            "empty": b"",
        }


DROP = object()  # a header member or claim the case leaves out


def _other_audiences(ctx: Ctx) -> list[str]:
    return [aud for aud in ("sso", "orders", "products") if aud != ctx.audience]


def _attacker_cert() -> bytes:
    key = keys.private_key("attacker")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sso.example.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def _nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


def _nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _tampered(ctx: Ctx, **changes: Any) -> str:
    """The real token's header and signature around a changed payload."""
    header, _payload, signature = forge.parts(ctx.bob["access"])
    claims = {**ctx.bob["claims"], **changes}
    return f"{header}.{forge.segment(claims)}.{signature}"


def _tampered_text(ctx: Ctx, text: str) -> str:
    """The same claims in different JSON text under the original signature: still not what was signed."""
    header, _payload, signature = forge.parts(ctx.bob["access"])
    return f"{header}.{forge.segment(text)}.{signature}"


def _resigned(ctx: Ctx, signature: bytes) -> str:
    header, payload, _signature = forge.parts(ctx.bob["access"])
    return f"{header}.{payload}.{forge.b64(signature)}"


def _real_signature(ctx: Ctx) -> bytes:
    return forge.decoded(ctx.bob["access"])[2]


def _duplicate_claims(ctx: Ctx, first: dict, last: dict) -> str:
    """Payload JSON text with members repeated: a parser that keeps the first and one that keeps the last
    would read different tokens."""
    base = {k: v for k, v in ctx.claims().items() if k not in first}
    text = (
        "{"
        + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in [*first.items(), *base.items(), *last.items()])
        + "}"
    )
    return ctx.signed(claims=text)


NOW = int(time.time())

CASES = {
    # --- alg none, in every spelling, with no signature and with the real one
    **{
        f"alg-{spelling}-unsigned": (lambda ctx, s=spelling: forge.with_signature(ctx.header(alg=s), ctx.claims(), b""))
        for spelling in ("none", "None", "NONE", "nOnE", "none ")
    },
    "alg-none-with-real-signature": lambda ctx: forge.with_signature(
        ctx.header(alg="none"), ctx.bob["claims"], _real_signature(ctx)
    ),
    "alg-missing": lambda ctx: forge.with_signature(ctx.header(alg=DROP), ctx.claims(), b""),
    "alg-null": lambda ctx: forge.with_signature(ctx.header(alg=None), ctx.claims(), b""),
    "alg-empty": lambda ctx: forge.with_signature(ctx.header(alg=""), ctx.claims(), b""),
    "alg-list": lambda ctx: ctx.signed(header=ctx.header(alg=["RS256"])),
    "alg-lowercase-rs256": lambda ctx: ctx.signed(header=ctx.header(alg="rs256")),
    # --- signatures: stripped, truncated, bit-flipped, zeroed, borrowed
    "signature-stripped": lambda ctx: ctx.bob["access"].rsplit(".", 1)[0] + ".",
    "signature-segment-missing": lambda ctx: ctx.bob["access"].rsplit(".", 1)[0],
    "signature-truncated": lambda ctx: _resigned(ctx, _real_signature(ctx)[:-16]),
    "signature-one-byte": lambda ctx: _resigned(ctx, _real_signature(ctx)[:1]),
    "signature-bit-flipped-first": lambda ctx: _resigned(ctx, forge.flip_bit(_real_signature(ctx), 0)),
    "signature-bit-flipped-last": lambda ctx: _resigned(ctx, forge.flip_bit(_real_signature(ctx), 2047)),
    "signature-all-zero": lambda ctx: _resigned(ctx, bytes(256)),
    "signature-extended": lambda ctx: _resigned(ctx, _real_signature(ctx) + b"\x00"),
    "signature-of-another-token": lambda ctx: ctx.signed().rsplit(".", 1)[0] + "." + forge.parts(ctx.bob["access"])[2],
    # --- payload tampered under the original signature
    "tampered-sub": lambda ctx: _tampered(ctx, sub="1"),
    "tampered-roles": lambda ctx: _tampered(ctx, roles=["catalog_manager"]),
    "tampered-staff": lambda ctx: _tampered(ctx, staff=True),
    "tampered-exp": lambda ctx: _tampered(ctx, exp=ctx.bob["claims"]["exp"] + 3600),
    "tampered-whitespace-only": lambda ctx: _tampered_text(ctx, json.dumps(ctx.bob["claims"], indent=1)),
    # --- HS256/384/512 keyed with the issuer's public key in every encoding, and with an empty secret
    **{
        f"{alg}-{encoding}": (
            lambda ctx, alg=alg, encoding=encoding: forge.hmac_signed(
                ctx.header(alg=alg), ctx.claims(), ctx.public_key_encodings()[encoding]
            )
        )
        for alg in ("HS256", "HS384", "HS512")
        for encoding in (
            "pem",
            "pem-no-final-newline",
            "pem-crlf",
            "pkcs1-pem",
            "der",
            "pkcs1-der",
            "jwk-json",
            "jwk-json-compact",
            "jwks-as-served",
            "empty",
        )
    },
    # --- other algorithms: the right key under another name, and the "psychic signature" (CVE-2022-21449)
    "PS256-with-issuer-key": lambda ctx: forge.ps256(ctx.header(alg="PS256"), ctx.claims(), issuer_private_key()),
    "RS512-with-issuer-key": lambda ctx: forge.rs256(
        ctx.header(alg="RS512"), ctx.claims(), issuer_private_key(), hash_name="sha512"
    ),
    "ES256-all-zero-signature": lambda ctx: forge.with_signature(ctx.header(alg="ES256"), ctx.claims(), bytes(64)),
    "ES256-all-zero-signature-no-kid": lambda ctx: forge.with_signature(
        ctx.header(alg="ES256", kid=DROP), ctx.claims(), bytes(64)
    ),
    # --- kid injection (signed with the real key, so only the kid is wrong)
    "kid-path-traversal": lambda ctx: ctx.signed(header=ctx.header(kid="../../../../../../dev/null")),
    "kid-absolute-path": lambda ctx: ctx.signed(header=ctx.header(kid="/etc/passwd")),
    "kid-dev-null-hs256-empty-secret": lambda ctx: forge.hmac_signed(
        ctx.header(alg="HS256", kid="../../../../../../dev/null"), ctx.claims(), b""
    ),
    "kid-sql": lambda ctx: ctx.signed(header=ctx.header(kid="' OR '1'='1' -- ")),
    "kid-sql-union": lambda ctx: ctx.signed(header=ctx.header(kid="x' UNION SELECT 'secret' --")),
    "kid-10000-characters": lambda ctx: ctx.attacker_signed(header=ctx.header(kid="k" * 10_000)),
    "kid-unknown": lambda ctx: ctx.signed(header=ctx.header(kid="unknown-kid")),
    "kid-empty": lambda ctx: ctx.signed(header=ctx.header(kid="")),
    "kid-missing": lambda ctx: ctx.signed(header=ctx.header(kid=DROP)),
    "kid-number": lambda ctx: ctx.signed(header=ctx.header(kid=1)),
    "kid-object": lambda ctx: ctx.signed(header=ctx.header(kid={"$ne": None})),
    "kid-null-byte": lambda ctx: ctx.signed(header=ctx.header(kid=issuer_kid() + "\x00")),
    "kid-prefix-of-real": lambda ctx: ctx.signed(header=ctx.header(kid=issuer_kid()[:-1])),
    # --- keys embedded in or pointed at by the header (signed by the attacker's own key)
    "embedded-jwk": lambda ctx: ctx.attacker_signed(header=ctx.header(kid=DROP, jwk=keys.public_jwk("attacker"))),
    "embedded-jwk-with-real-kid": lambda ctx: ctx.attacker_signed(header=ctx.header(jwk=keys.public_jwk("attacker"))),
    "embedded-jwk-with-its-kid": lambda ctx: ctx.attacker_signed(
        header=ctx.header(kid=keys.kid_of("attacker"), jwk=keys.public_jwk("attacker"))
    ),
    "jku": lambda ctx: ctx.attacker_signed(
        header=ctx.header(kid=keys.kid_of("attacker"), jku=f"{ctx.listener_url}/jwks.json")
    ),
    "jku-with-real-kid": lambda ctx: ctx.attacker_signed(header=ctx.header(jku=f"{ctx.listener_url}/jwks.json")),
    "jku-on-issuer-host": lambda ctx: ctx.attacker_signed(
        header=ctx.header(kid=keys.kid_of("attacker"), jku=f"{ctx.issuer_url}/.well-known/jwks.json@127.0.0.1")
    ),
    "x5u": lambda ctx: ctx.attacker_signed(header=ctx.header(kid=DROP, x5u=f"{ctx.listener_url}/cert.pem")),
    "x5c": lambda ctx: ctx.attacker_signed(header=ctx.header(kid=DROP, x5c=[forge.b64(_attacker_cert())])),
    "x5c-with-real-kid": lambda ctx: ctx.attacker_signed(header=ctx.header(x5c=[forge.b64(_attacker_cert())])),
    # --- crit (signed with the real key)
    "crit-unknown-extension": lambda ctx: ctx.signed(header=ctx.header(crit=["exp2"], exp2=NOW)),
    "crit-b64-false": lambda ctx: ctx.signed(header=ctx.header(crit=["b64"], b64=False)),
    "crit-not-a-list": lambda ctx: ctx.signed(header=ctx.header(crit="exp2", exp2=NOW)),
    "crit-empty-list": lambda ctx: ctx.signed(header=ctx.header(crit=[])),
    # --- time claims (signed with the real key)
    "expired-past-leeway": lambda ctx: ctx.signed(
        claims=ctx.claims(exp=int(time.time()) - 120, iat=int(time.time()) - 420)
    ),
    "exp-missing": lambda ctx: ctx.signed(claims=ctx.claims(exp=DROP)),
    "exp-null": lambda ctx: ctx.signed(claims=ctx.claims(exp=None)),
    "exp-string": lambda ctx: ctx.signed(claims=ctx.claims(exp=str(int(time.time()) + 300))),
    "exp-boolean": lambda ctx: ctx.signed(claims=ctx.claims(exp=True)),
    "exp-infinite": lambda ctx: ctx.signed(claims=json.dumps(ctx.claims(exp=float("inf")))),
    "exp-overflowing-float": lambda ctx: ctx.signed(claims=json.dumps(ctx.claims(exp="EXP")).replace('"EXP"', "1e400")),
    "exp-5000-digits": lambda ctx: ctx.signed(claims=json.dumps(ctx.claims(exp="EXP")).replace('"EXP"', "9" * 5000)),
    "nbf-future": lambda ctx: ctx.signed(claims=ctx.claims(nbf=int(time.time()) + 3600)),
    "nbf-string": lambda ctx: ctx.signed(claims=ctx.claims(nbf="now")),
    "iat-future": lambda ctx: ctx.signed(claims=ctx.claims(iat=int(time.time()) + 3600)),
    "iat-string": lambda ctx: ctx.signed(claims=ctx.claims(iat=str(int(time.time())))),
    "iat-missing": lambda ctx: ctx.signed(claims=ctx.claims(iat=DROP)),
    # --- iss: prefix, suffix, array of the real one
    "iss-with-trailing-slash": lambda ctx: ctx.signed(claims=ctx.claims(iss=ctx.issuer_url + "/")),
    "iss-real-as-prefix": lambda ctx: ctx.signed(claims=ctx.claims(iss=ctx.issuer_url + ".evil.example")),
    "iss-real-as-path-prefix": lambda ctx: ctx.signed(claims=ctx.claims(iss=ctx.issuer_url + "/evil")),
    "iss-truncated": lambda ctx: ctx.signed(claims=ctx.claims(iss=ctx.issuer_url[:-1])),
    "iss-real-as-suffix": lambda ctx: ctx.signed(claims=ctx.claims(iss="http://evil.example/" + ctx.issuer_url)),
    "iss-evil-subdomain-suffix": lambda ctx: ctx.signed(
        claims=ctx.claims(iss=ctx.issuer_url.replace("://", "://evil."))
    ),
    "iss-array": lambda ctx: ctx.signed(claims=ctx.claims(iss=[ctx.issuer_url])),
    "iss-array-with-evil": lambda ctx: ctx.signed(claims=ctx.claims(iss=[ctx.issuer_url, "http://evil.example"])),
    "iss-uppercase": lambda ctx: ctx.signed(claims=ctx.claims(iss=ctx.issuer_url.upper())),
    "iss-missing": lambda ctx: ctx.signed(claims=ctx.claims(iss=DROP)),
    "iss-https-variant": lambda ctx: ctx.signed(claims=ctx.claims(iss=ctx.issuer_url.replace("http://", "https://"))),
    # --- aud: another app's, and near misses of this one's
    "aud-other-apps": lambda ctx: ctx.signed(claims=ctx.claims(aud=_other_audiences(ctx))),
    "aud-other-app-string": lambda ctx: ctx.signed(claims=ctx.claims(aud=_other_audiences(ctx)[0])),
    "aud-uppercase": lambda ctx: ctx.signed(claims=ctx.claims(aud=[ctx.audience.upper()])),
    "aud-trailing-space": lambda ctx: ctx.signed(claims=ctx.claims(aud=[ctx.audience + " "])),
    "aud-suffixed": lambda ctx: ctx.signed(claims=ctx.claims(aud=[ctx.audience + ".evil"])),
    "aud-prefix": lambda ctx: ctx.signed(claims=ctx.claims(aud=[ctx.audience[:-1]])),
    "aud-empty": lambda ctx: ctx.signed(claims=ctx.claims(aud=[])),
    "aud-nested": lambda ctx: ctx.signed(claims=ctx.claims(aud=[[ctx.audience]])),
    "aud-missing": lambda ctx: ctx.signed(claims=ctx.claims(aud=DROP)),
    # --- token type: a refresh token used as an access token
    "real-refresh-token-as-access": lambda ctx: ctx.bob["refresh"],
    "token-type-refresh": lambda ctx: ctx.signed(claims=ctx.claims(token_type="refresh")),
    "token-type-missing": lambda ctx: ctx.signed(claims=ctx.claims(token_type=DROP)),
    "token-type-case": lambda ctx: ctx.signed(claims=ctx.claims(token_type="Access")),
    "token-type-list": lambda ctx: ctx.signed(claims=ctx.claims(token_type=["access"])),
    # --- claims of the wrong shape
    "sub-number": lambda ctx: ctx.signed(claims=ctx.claims(sub=int(ctx.bob["sub"]))),
    "sub-missing": lambda ctx: ctx.signed(claims=ctx.claims(sub=DROP)),
    "sid-missing": lambda ctx: ctx.signed(claims=ctx.claims(sid=DROP)),
    "sid-object": lambda ctx: ctx.signed(claims=ctx.claims(sid={"$gt": ""})),
    "roles-string": lambda ctx: ctx.signed(claims=ctx.claims(roles="catalog_manager")),
    "payload-array": lambda ctx: ctx.signed(claims="[1,2,3]"),
    "payload-null": lambda ctx: ctx.signed(claims="null"),
    "payload-not-json": lambda ctx: ctx.signed(claims="not json"),
    # --- duplicate JSON keys (parser differentials), signed with the real key
    "duplicate-token-type-refresh-first": lambda ctx: _duplicate_claims(
        ctx, {"token_type": "refresh"}, {"token_type": "access"}
    ),
    "duplicate-token-type-access-first": lambda ctx: _duplicate_claims(
        ctx, {"token_type": "access"}, {"token_type": "refresh"}
    ),
    "duplicate-aud": lambda ctx: _duplicate_claims(ctx, {"aud": _other_audiences(ctx)}, {"aud": [ctx.audience]}),
    "duplicate-sub": lambda ctx: _duplicate_claims(ctx, {"sub": "1"}, {"sub": ctx.bob["sub"]}),
    "duplicate-header-alg": lambda ctx: ctx.signed(
        header=f'{{"alg":"none","alg":"RS256","typ":"JWT","kid":{json.dumps(issuer_kid())}}}'
    ),
    "duplicate-header-kid": lambda ctx: ctx.signed(
        header=f'{{"alg":"RS256","kid":"../../dev/null","kid":{json.dumps(issuer_kid())}}}'
    ),
    # --- size and shape
    "deeply-nested-header": lambda ctx: ctx.attacker_signed(
        header=f'{{"alg":"RS256","kid":{json.dumps(issuer_kid())},"x":{_nested(2400)}}}'
    ),
    "deeply-nested-payload": lambda ctx: ctx.attacker_signed(
        claims=json.dumps(ctx.claims())[:-1] + f',"x":{_nested(2400)}}}'
    ),
    "deeply-nested-payload-objects": lambda ctx: ctx.attacker_signed(
        claims=json.dumps(ctx.claims())[:-1] + f',"x":{_nested_objects(1000)}}}'
    ),
    "header-12-kib": lambda ctx: ctx.attacker_signed(header=ctx.header(pad="p" * 9000)),
    "non-base64-characters": lambda ctx: "!!!.###.$$$",
    "base64-standard-alphabet": lambda ctx: ctx.bob["access"].replace("-", "+").replace("_", "/"),
    "base64-padding": lambda ctx: ".".join(part + "==" for part in forge.parts(ctx.bob["access"])),
    "latin1-character": lambda ctx: "é" + ctx.bob["access"],
    "header-not-json": lambda ctx: forge.b64("not json") + "." + ".".join(forge.parts(ctx.bob["access"])[1:]),
    "header-json-array": lambda ctx: ctx.signed(header='["RS256"]'),
    "header-json-string": lambda ctx: ctx.signed(header='"RS256"'),
    "empty-segments": lambda ctx: "..",
    "dots-only": lambda ctx: ".....",
    "single-segment": lambda ctx: forge.parts(ctx.bob["access"])[0],
    "four-segments": lambda ctx: ctx.bob["access"] + "." + forge.parts(ctx.bob["access"])[2],
    "four-segments-empty-last": lambda ctx: ctx.bob["access"] + ".",
    "five-segments-jwe": lambda ctx: ".".join(
        [forge.segment({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": issuer_kid()}), "AAAA", "AAAA", "AAAA", "AAAA"]
    ),
    "five-segments-real-parts": lambda ctx: ctx.bob["access"] + "." + ".".join(forge.parts(ctx.bob["access"])[:2]),
}


@pytest.fixture(scope="module")
def ctx_by_site(security_stack, bob, listener) -> dict[str, Ctx]:
    jwks_body = requests.get(f"{security_stack.internal['issuer']}/.well-known/jwks.json", timeout=10).content
    assert issuer_kid() in [k["kid"] for k in json.loads(jwks_body)["keys"]], "the issuer signs with this suite's key"
    # bob's real token for the issuer's account API is one asked for it; the apps take his default one.
    account_token = security_stack.token("bob", audience="sso")["access"]
    return {
        site: Ctx(
            issuer_url=security_stack.url["issuer"],
            audience=AUDIENCE[site],
            bob={**bob, "access": account_token} if site == "issuer" else bob,
            jwks_body=jwks_body,
            listener_url=listener.url,
        )
        for site in AUDIENCE
    }


def send(security_stack, site: str, path: str, transport: str, token: str) -> requests.Response:
    headers = {"Accept": "application/json"}
    if transport == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    else:
        headers["Cookie"] = f"sso_access={token}"
    # Header values go out as latin-1 bytes, as a raw client would send them.
    headers = {name: value.encode("latin-1") for name, value in headers.items()}
    return requests.get(f"{security_stack.internal[site]}{path}", headers=headers, timeout=10)


@pytest.mark.parametrize(("target", "site", "path", "transport"), TARGETS, ids=[t[0] for t in TARGETS])
def test_control_a_well_formed_token_signed_with_the_issuer_key_is_accepted(
    security_stack, ctx_by_site, target, site, path, transport
):
    """The baseline every hostile case below departs from by one change."""
    ctx = ctx_by_site[site]
    for token in (ctx.signed(), ctx.bob["access"]):
        response = send(security_stack, site, path, transport, token)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(("target", "site", "path", "transport"), TARGETS, ids=[t[0] for t in TARGETS])
def test_hostile_token_gets_a_fast_generic_401(
    security_stack, ctx_by_site, listener, target, site, path, transport, case
):
    token = CASES[case](ctx_by_site[site])
    response = send(security_stack, site, path, transport, token)
    assert_refused(response, 401)
    if transport == "bearer":
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert listener.requests == [], "a verifier fetched a URL named in a token"


@pytest.mark.parametrize("site", ["orders", "issuer"])
@pytest.mark.parametrize("part", ["header", "payload"])
def test_a_one_mebibyte_header_or_payload_is_refused_before_the_app(security_stack, ctx_by_site, site, part):
    ctx = ctx_by_site[site]
    if part == "header":
        token = ctx.attacker_signed(header=ctx.header(pad="p" * MIB))
    else:
        token = ctx.attacker_signed(claims=ctx.claims(pad="p" * MIB))
    path = "/api/orders/" if site == "orders" else "/api/sessions/"
    try:
        response = send(security_stack, site, path, "bearer", token)
    except requests.ConnectionError:
        # The server may close the connection while the client is still sending: refused all the same.
        response = None
    if response is not None:
        assert response.status_code in (400, 401, 413, 431), response.status_code
        assert "Traceback" not in response.text
    assert send(security_stack, site, path, "bearer", ctx.signed()).status_code == 200, "still serving"


def raw_get(url: str, headers: list[tuple[str, str]]) -> tuple[int, dict, bytes]:
    """A GET sent with http.client, which (unlike requests) sends a header name twice when told to."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("GET", parts.path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("site", ["orders", "products", "issuer"])
@pytest.mark.parametrize(
    "second",
    ["hostile", "same", "basic"],
)
def test_two_authorization_headers_are_refused(security_stack, ctx_by_site, site, second):
    ctx = ctx_by_site[site]
    good = ctx.signed()
    other = {
        "hostile": f"Bearer {forge.with_signature(ctx.header(alg='none'), ctx.claims(staff=True), b'')}",
        "same": f"Bearer {good}",
        "basic": "Basic Ym9iOnNlY3JldA==",
    }[second]
    path = {"orders": "/api/orders/", "products": "/api/products/", "issuer": "/api/sessions/"}[site]
    for headers in (
        [("Authorization", f"Bearer {good}"), ("Authorization", other)],
        [("Authorization", other), ("Authorization", f"Bearer {good}")],
    ):
        status, response_headers, body = raw_get(
            f"{security_stack.internal[site]}{path}", [("Accept", "application/json"), *headers]
        )
        assert status in (400, 401), (status, body[:200])
        assert b"Traceback" not in body


def test_bearer_header_and_cookie_together_use_the_header_only(security_stack, ctx_by_site):
    """Never a mix: a valid cookie does not rescue a refused header."""
    ctx = ctx_by_site["orders"]
    response = requests.get(
        f"{security_stack.internal['orders']}/api/orders/",
        headers={
            "Authorization": "Bearer " + CASES["alg-none-unsigned"](ctx),
            "Cookie": f"sso_access={ctx.signed()}",
            "Accept": "application/json",
        },
        timeout=10,
    )
    assert_refused(response, 401)


def test_an_access_token_is_refused_as_a_refresh_token(security_stack, ctx_by_site, bob):
    for token in (
        bob["access"],
        ctx_by_site["issuer"].signed(claims=ctx_by_site["issuer"].claims(token_type="refresh")),
    ):
        for path in ("/api/token/refresh/", "/api/logout/"):
            response = requests.post(
                f"{security_stack.internal['issuer']}{path}",
                json={"refresh": token},
                headers={"Accept": "application/json"},
                timeout=10,
            )
            assert_refused(response, 401)


@pytest.mark.parametrize("case", ["alg-none-unsigned", "HS256-pem", "tampered-sub", "signature-stripped", "exp-string"])
def test_hostile_refresh_tokens_are_refused(security_stack, ctx_by_site, bob, case):
    """The same mutations applied to a refresh token, at the endpoint that reads refresh tokens."""
    header, claims, _signature = forge.decoded(bob["refresh"])
    mutations = {
        "alg-none-unsigned": lambda: forge.with_signature({**header, "alg": "none"}, claims, b""),
        "HS256-pem": lambda: forge.hmac_signed(
            {**header, "alg": "HS256"}, claims, ctx_by_site["issuer"].public_key_encodings()["pem"]
        ),
        "tampered-sub": lambda: forge.parts(bob["refresh"])[0]
        + "."
        + forge.segment({**claims, "sub": "1"})
        + "."
        + forge.parts(bob["refresh"])[2],
        "signature-stripped": lambda: bob["refresh"].rsplit(".", 1)[0] + ".",
        "exp-string": lambda: forge.hmac_signed(
            {**header, "alg": "HS256"}, {**claims, "exp": str(claims["exp"])}, b"x"
        ),
    }
    response = requests.post(
        f"{security_stack.internal['issuer']}/api/token/refresh/",
        json={"refresh": mutations[case]()},
        headers={"Accept": "application/json"},
        timeout=10,
    )
    assert_refused(response, 401)


@pytest.mark.parametrize("audience", ["", "orders"], ids=["default", "one-app"])
@pytest.mark.parametrize(
    ("method", "path"), [("get", "/api/sessions/"), ("post", "/api/logout/everywhere/"), ("post", "/api/logout/")]
)
def test_a_real_token_handed_to_a_relying_app_cannot_act_at_the_issuer(security_stack, audience, method, path):
    """What orders receives from bob (signed by the issuer, valid there) does not open bob's account API."""
    pair = security_stack.token("bob", **({"audience": audience} if audience else {}))
    response = getattr(requests, method)(
        f"{security_stack.internal['issuer']}{path}",
        headers={"Authorization": f"Bearer {pair['access']}", "Accept": "application/json"},
        timeout=10,
    )
    assert_refused(response, 401)
    still = requests.get(
        f"{security_stack.internal['orders']}/api/orders/",
        headers={"Authorization": f"Bearer {pair['access']}"},
        timeout=10,
    )
    assert still.status_code == 200, "the session was not ended"
