"""JWKS and discovery documents."""

import pytest
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from issuer.models import SigningKey
from issuer.signing import keys

pytestmark = pytest.mark.django_db

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def test_jwks_publishes_public_members_only_with_kid_use_alg(client):
    keys.signing_key_ensure()  # what `manage.py ensure_signing_key` does at deploy time
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age=" in response["Cache-Control"]
    (jwk,) = response.json()["keys"]
    assert jwk["kty"] == "RSA" and jwk["use"] == "sig" and jwk["alg"] == "RS256"
    assert not PRIVATE_MEMBERS & set(jwk)
    assert jwk["kid"] == keys.jwk_thumbprint(jwk)


def test_kid_is_the_rfc7638_thumbprint():
    # RFC 7638 section 3.1's example key and thumbprint.
    example = {
        "kty": "RSA",
        "e": "AQAB",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
        "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91"
        "CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    }
    assert keys.jwk_thumbprint(example) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_discovery_names_the_configured_issuer_whatever_the_host_header(client):
    response = client.get("/.well-known/openid-configuration", HTTP_HOST="localhost")
    body = response.json()
    assert body["issuer"] == settings.SSO_ISSUER_URL
    assert body["jwks_uri"] == f"{settings.SSO_ISSUER_URL}/.well-known/jwks.json"
    assert body["token_endpoint"] == f"{settings.SSO_ISSUER_URL}/oauth/token/"
    assert body["id_token_signing_alg_values_supported"] == ["RS256"]


def test_forged_host_header_is_refused(client):
    assert client.get("/.well-known/openid-configuration", HTTP_HOST="evil.example").status_code == 400


def test_a_jwks_request_never_creates_a_key(client):
    """Reads never write: the JWKS is polled by every relying process, so it does not generate keys."""
    assert client.get("/.well-known/jwks.json").json() == {"keys": []}
    assert client.get("/api/revocations/").json()["kids"] == []
    assert not SigningKey.objects.exists()


def test_private_key_is_stored_encrypted():
    key = keys.signing_key_ensure()
    stored = SigningKey.objects.get(pk=key.pk).private_pem_encrypted
    with pytest.raises(TypeError):  # cryptography: "Password was not given but private key is encrypted"
        serialization.load_pem_private_key(stored.encode(), password=None)
    assert serialization.load_pem_private_key(stored.encode(), password=keys._passphrase())


def test_rotation_keeps_the_previous_key_published_until_retired(client, monkeypatch):
    first = keys.signing_key_ensure()
    second = keys.signing_key_rotate()
    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]]
    assert kids == [second.kid, first.kid]
    assert keys.signing_keys_retire_expired() == [], "not retired while its tokens may be live"
    from datetime import timedelta

    from issuer import clock

    later = clock.now() + keys.retire_after() + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert keys.signing_keys_retire_expired() == [first.kid]
    assert [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]] == [second.kid]


def test_signing_key_file_from_the_environment(settings, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "signing.pem"
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    settings.SSO_ISSUER = {**settings.SSO_ISSUER, "SIGNING_KEY_FILE": str(path)}
    key = keys.signing_key_ensure()
    assert key.source == "file" and key.private_pem_encrypted == ""
    assert key.kid == keys.public_jwk_for(private_key)["kid"]
    assert keys.active_signing_key().kid == key.kid
