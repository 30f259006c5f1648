"""Every hostile-token case in-process against products' verifier, under products' settings (its audience):
the tests of tests/sso_client/test_forged_tokens.py, collected here."""

from tests.sso_client.test_forged_tokens import (  # noqa: F401  (fixtures and tests pytest collects here)
    ctx,
    fetched,
    test_control_a_well_formed_token_signed_with_the_issuer_key_is_accepted,
    test_hostile_token_gets_a_fast_generic_401,
)
