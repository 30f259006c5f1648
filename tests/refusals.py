"""What a refusal may look like, wherever it is made (a running site or Django's test client): fast, small,
in stable generic wording, naming no library and carrying no token or path."""

import json

# A refusal is cheap: no password is hashed and nothing is fetched. Loose, for a busy test machine.
FAST_SECONDS = 2.0
# Bodies a refusal may carry: stable, generic wording (never a library's message, a token or a path).
GENERIC_DETAILS = {
    "Authentication credentials were not valid.",
    "Authentication credentials were not provided.",
    "Token is invalid or expired.",
    "Invalid Authorization header.",
    "Invalid client credentials.",
    "No active account found with the given credentials.",
    "Request body too large.",
    "Malformed request.",
    "Malformed JSON.",
    "Cross-origin request refused.",
    "CSRF Failed: the request did not pass the CSRF check.",
}
LEAKS = ("Traceback", 'File "', "jwt.", "PyJWT", "simplejwt", "cryptography", "django.", "Exception", ".py", "line ")


def assert_generic_body(*, status: int, body: str, content_type: str) -> None:
    """A refusal's body: small, leaking nothing, and when JSON, a generic detail or DRF's short field errors."""
    assert len(body) < 1000, body[:300]
    for leak in LEAKS:
        assert leak not in body, (leak, body[:300])
    if content_type.startswith("application/json"):
        data = json.loads(body)
        if status == 400 and "detail" not in data:
            # Field validation: DRF's short per-field messages, which name the field and nothing else.
            assert all(isinstance(v, list) and all(len(m) < 200 for m in v) for v in data.values()), data
            return
        assert set(data) <= {"detail", "code"}, data
        detail = data.get("detail", "")
        assert detail in GENERIC_DETAILS or detail.startswith("Too many failed"), data
