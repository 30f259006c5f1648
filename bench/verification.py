"""Sections (a) and (f) of `make bench`, in one relying-app process (orders, with simplejwt configured
beside it: bench.settings_simplejwt) that talks to the benchmark's running issuer like any relying app.

(a) what verifying one token costs: sso_client cold (first sight) and warm (verified-token cache), PyJWT's
    `jwt.decode` alone, and simplejwt's stock `JWTStatelessUserAuthentication`, each against a raw
    `cryptography` RSA-2048 PKCS#1 v1.5 / SHA-256 verify of the same token's signing input.
    Also one whole request through Django and DRF, authenticated (/api/whoami/) and not (/api/ping/).
(f) what 10,000 authenticated requests cost in database queries, shared-cache calls and HTTP calls, on
    the request path (this thread) and in the background refresher (other threads), after one warm-up.

Reads {"token": access token} on stdin; prints one JSON object on stdout."""

import json
import sys
import threading
import time
from collections import Counter

import django


def _verification_costs(raw: str) -> dict:
    import jwt
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from jwt.utils import base64url_decode
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory
    from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication

    from bench.timing import best_per_call
    from sso_client.authentication import SSOAuthentication
    from sso_client.claims import ACCESS_REQUIRED_CLAIMS
    from sso_client.conf import sso_settings
    from sso_client.state import issuer_state
    from sso_client.verify import token_verify, verified_cache

    conf = sso_settings()
    token = token_verify(raw)  # first use: discovery, JWKS and revocation list from the issuer
    public_key = issuer_state.key_for(token.kid).key
    signing_input, _, signature_b64 = raw.rpartition(".")
    signing_input_bytes, signature = signing_input.encode(), base64url_decode(signature_b64)

    request = Request(APIRequestFactory().get("/api/whoami/", HTTP_AUTHORIZATION=f"Bearer {raw}"))
    ours, simplejwt = SSOAuthentication(), JWTStatelessUserAuthentication()
    # Both must accept the token, or the timings below would be timing a refusal.
    assert ours.authenticate(request)[0].sub == token.claims["sub"]
    assert simplejwt.authenticate(request)[1]["sub"] == token.claims["sub"]

    def raw_verify() -> None:
        public_key.verify(signature, signing_input_bytes, padding.PKCS1v15(), hashes.SHA256())

    def pyjwt_decode() -> None:
        jwt.decode(
            raw,
            public_key,
            algorithms=conf["ALGORITHMS"],
            audience=conf["AUDIENCE"],
            issuer=conf["ISSUER"],
            leeway=conf["LEEWAY_SECONDS"],
            options={"require": ACCESS_REQUIRED_CLAIMS, "strict_aud": False},
        )

    def verify_cold() -> None:
        verified_cache.clear()
        token_verify(raw)

    def authenticate_cold() -> None:
        verified_cache.clear()
        ours.authenticate(request)

    return best_per_call(
        {
            "raw_verify": raw_verify,
            "verify_cold": verify_cold,
            "verify_warm": lambda: token_verify(raw),
            "pyjwt_decode": pyjwt_decode,
            "authenticate_cold": authenticate_cold,
            "authenticate_warm": lambda: ours.authenticate(request),
            "simplejwt_authenticate": lambda: simplejwt.authenticate(request),
            "cache_clear": verified_cache.clear,
        }
    )


def _request_costs(raw: str) -> dict:
    from django.test import Client

    from bench.timing import best_per_call

    client = Client()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {raw}", "HTTP_ACCEPT": "application/json"}
    assert client.get("/api/whoami/", **bearer).status_code == 200
    assert client.get("/api/ping/", HTTP_ACCEPT="application/json").status_code == 200
    return best_per_call(
        {
            "whoami": lambda: client.get("/api/whoami/", **bearer),
            "ping": lambda: client.get("/api/ping/", HTTP_ACCEPT="application/json"),
        },
        batch_seconds=0.01,
        repeat=15,
    )


class _CallCounter:
    """Counts calls to some methods, by whether they ran on the request path (the main thread)."""

    def __init__(self) -> None:
        self.request_path: Counter[str] = Counter()
        self.background: Counter[str] = Counter()

    def wrap(self, owner: type, name: str, label: str) -> None:
        original = getattr(owner, name)
        main = threading.main_thread()

        def counted(*args, **kwargs):
            bucket = self.request_path if threading.current_thread() is main else self.background
            bucket[label] += 1
            return original(*args, **kwargs)

        setattr(owner, name, counted)

    def reset(self) -> None:
        self.request_path.clear()
        self.background.clear()


def _steady_state_counts(raw: str, requests_count: int) -> dict:
    import requests
    from django.core.cache import caches
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counter = _CallCounter()
    counter.wrap(requests.Session, "send", "http")
    cache_class = type(caches["default"])
    for method in ("get", "set", "add", "delete", "get_many", "set_many", "delete_many", "incr", "has_key", "touch"):
        counter.wrap(cache_class, method, "cache")

    client = Client()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {raw}", "HTTP_ACCEPT": "application/json"}
    assert client.get("/api/whoami/", **bearer).status_code == 200  # warm-up
    counter.reset()
    failures = 0
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(requests_count):
            failures += client.get("/api/whoami/", **bearer).status_code != 200
    seconds = time.perf_counter() - started
    return {
        "requests": requests_count,
        "failures": failures,
        "seconds": seconds,
        "db_queries": len(queries),
        "http_request_path": counter.request_path["http"],
        "cache_request_path": counter.request_path["cache"],
        "http_background": counter.background["http"],
        "cache_background": counter.background["cache"],
    }


def main() -> None:
    params = json.load(sys.stdin)
    django.setup()
    raw = params["token"]
    result = {
        "verify": _verification_costs(raw),
        "requests": _request_costs(raw),
        "steady_state": _steady_state_counts(raw, params.get("requests", 10_000)),
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
