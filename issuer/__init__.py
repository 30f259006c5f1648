"""The token issuer: the only code that touches a private key."""
