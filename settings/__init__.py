"""Per-site Django settings: one module per site over a shared base."""
