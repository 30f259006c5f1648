"""The issuer's HTTP surfaces, one module per surface: thin views that validate, call one service, answer."""
