"""The hostile-token cases, one mutation each of a token the verifier otherwise accepts, for every verifier:
in-process against sso_client's (tests/sso_client, tests/products) and the issuer's own (tests/issuer), and a
representative set over HTTP at every running site (tests/security), which proves the middleware and the
error bodies. A case is a function of a Ctx: the facts of the verifier under test."""

import datetime
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests import forge, keys


@dataclass
class Ctx:
    """What a case needs to build its token: the verifier's issuer, audience and published keys, the key
    the issuer signs with, and bob's sign-on (`access`, `refresh`, their `claims`, `sub`, `sid_claim`)."""

    issuer_url: str
    audience: str
    bob: dict
    jwks_body: bytes
    listener_url: str
    kid: str
    signing_key: rsa.RSAPrivateKey

    def header(self, **overrides: Any) -> dict:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
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
        return forge.rs256(header if header is not None else self.header(), claims or self.claims(), self.signing_key)

    def attacker_signed(self, header: Any = None, claims: Any = None) -> str:
        return forge.rs256(
            header if header is not None else self.header(), claims or self.claims(), keys.private_key("attacker")
        )

    @property
    def real_jwk(self) -> dict:
        (jwk,) = [k for k in json.loads(self.jwks_body)["keys"] if k["kid"] == self.kid]
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
    "PS256-with-issuer-key": lambda ctx: forge.ps256(ctx.header(alg="PS256"), ctx.claims(), ctx.signing_key),
    "RS512-with-issuer-key": lambda ctx: forge.rs256(
        ctx.header(alg="RS512"), ctx.claims(), ctx.signing_key, hash_name="sha512"
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
    "kid-null-byte": lambda ctx: ctx.signed(header=ctx.header(kid=ctx.kid + "\x00")),
    "kid-prefix-of-real": lambda ctx: ctx.signed(header=ctx.header(kid=ctx.kid[:-1])),
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
        header=f'{{"alg":"none","alg":"RS256","typ":"JWT","kid":{json.dumps(ctx.kid)}}}'
    ),
    "duplicate-header-kid": lambda ctx: ctx.signed(
        header=f'{{"alg":"RS256","kid":"../../dev/null","kid":{json.dumps(ctx.kid)}}}'
    ),
    # --- size and shape
    "deeply-nested-header": lambda ctx: ctx.attacker_signed(
        header=f'{{"alg":"RS256","kid":{json.dumps(ctx.kid)},"x":{_nested(2400)}}}'
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
        [forge.segment({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": ctx.kid}), "AAAA", "AAAA", "AAAA", "AAAA"]
    ),
    "five-segments-real-parts": lambda ctx: ctx.bob["access"] + "." + ".".join(forge.parts(ctx.bob["access"])[:2]),
}

# Over HTTP at every site: at least one case of each family above (tests/security/test_forged_tokens.py). The
# whole of CASES runs in-process against each verifier.
HTTP_CASES = [
    "alg-none-unsigned",
    "alg-none-with-real-signature",
    "alg-lowercase-rs256",
    "signature-stripped",
    "signature-bit-flipped-last",
    "tampered-roles",
    "HS256-pem",
    "HS512-jwks-as-served",
    "PS256-with-issuer-key",
    "ES256-all-zero-signature",
    "kid-path-traversal",
    "kid-sql",
    "kid-unknown",
    "kid-missing",
    "kid-10000-characters",
    "embedded-jwk",
    "jku",
    "x5u",
    "x5c",
    "crit-unknown-extension",
    "expired-past-leeway",
    "exp-string",
    "exp-5000-digits",
    "nbf-future",
    "iss-with-trailing-slash",
    "iss-array",
    "aud-other-apps",
    "aud-missing",
    "real-refresh-token-as-access",
    "token-type-refresh",
    "sub-number",
    "sid-object",
    "roles-string",
    "payload-not-json",
    "duplicate-token-type-refresh-first",
    "duplicate-header-alg",
    "deeply-nested-payload",
    "header-12-kib",
    "non-base64-characters",
    "latin1-character",
    "base64-padding",
    "four-segments",
    "five-segments-jwe",
]
