"""The relying-party side of the SSO: every relying app verifies tokens through this one package."""
