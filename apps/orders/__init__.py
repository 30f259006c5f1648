"""The orders relying app: a person's orders, owned by the token's `sub`."""
