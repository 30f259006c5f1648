"""The token contract between the issuer, which mints, and every verifier: the claims each kind that leaves
the issuer must carry. The issuer imports these (sso_client never imports the issuer), so a claim added to
the contract is required everywhere at once."""

ACCESS_REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti", "token_type", "sid")
SERVICE_REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti", "token_type", "scope")
SERVICE_SUBJECT_PREFIX = "service:"

# OpenID Connect (any-domain mode): what an ID token (Core 2, 3.1.3.7) and a back-channel logout token
# (Back-Channel Logout 1.0, 2.4) must carry here, and the `typ` header that keeps each kind from passing for another.
ID_TOKEN_TYP = "JWT"
ID_TOKEN_REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "auth_time", "sid")
LOGOUT_TOKEN_TYP = "logout+jwt"
LOGOUT_TOKEN_REQUIRED_CLAIMS = ("iss", "aud", "iat", "exp", "jti", "events", "sid")
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# An access token from the token endpoint has the RFC 9068 profile: this `typ`, and `client_id` and `scope`.
ACCESS_TOKEN_TYP = "at+jwt"
