"""The issuer's manage.py commands: signing keys, demo data, the token inspector, pruning."""
