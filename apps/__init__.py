"""Relying apps: each is its own site that trusts the issuer's tokens through sso_client."""
