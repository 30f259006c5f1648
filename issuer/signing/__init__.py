"""Signing keys and token classes: the only code in the project that touches a private key."""
