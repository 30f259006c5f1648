"""The issuer's rules, one module per concept: `<noun>_<verb>` services that the views and admin call."""
