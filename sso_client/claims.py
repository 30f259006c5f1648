"""The token contract between the issuer, which mints, and every verifier: the claims each kind that leaves
the issuer must carry. The issuer imports these (sso_client never imports the issuer), so a claim added to
the contract is required everywhere at once."""

ACCESS_REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti", "token_type", "sid")
SERVICE_REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti", "token_type", "scope")
SERVICE_SUBJECT_PREFIX = "service:"
