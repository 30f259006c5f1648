"""The token issuer: users, sessions and the tokens signed for them (issuer/signing/ alone touches a private key)."""
