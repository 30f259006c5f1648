"""The words the issuer's API and pages say to people and clients, each written once; tests assert them."""

# A token that fails for any reason gets the same words: which check failed is for the logs.
TOKEN_NOT_VALID = "Token is invalid or expired."
INVALID_AUTHORIZATION_HEADER = "Invalid Authorization header."
TOKEN_TOO_LARGE = "This account has more roles and apps than fit in a token; ask an administrator."
AUDIENCE_NOT_ALLOWED = "You may not use that app."
API_MFA_REQUIRED = (
    "This account has a second factor: send `otp` (a code from its authenticator app, or a recovery code), "
    "or sign in through the browser at /login/."
)
API_MFA_REFUSED = "The second-factor code (`otp`) is not right, or it was already used."
API_MFA_NEEDED_FOR_APP = (
    "That app requires a second factor: add one on the account page (/account/) and send `otp`, or sign in "
    "through the browser at /login/."
)

# Sign-in refusals: the same words whichever limit was reached and whether or not the account exists (no
# enumeration). The API keeps the words its clients already match; the login page adds how long to wait.
API_INVALID_CREDENTIALS = "No active account found with the given credentials."
API_LOGIN_THROTTLED = "Too many failed sign-in attempts. Try again later."
PAGE_INVALID_CREDENTIALS = "Wrong username or password."
PAGE_LOGIN_THROTTLED = "Too many failed sign-in attempts."

# The service-token endpoint.
INVALID_CLIENT = "Invalid client credentials."
CLIENT_THROTTLED = "Too many failed attempts for these client credentials. Try again later."
CLIENT_AUDIENCE_NOT_ALLOWED = "This client may not call that app."
SCOPE_NOT_ALLOWED = "This client may not have that scope."

# Password reset: the same answer whether or not the address has an account.
RESET_SENT = "If an account uses that address, a password-reset link is on its way."
RESET_LINK_INVALID = "This password-reset link is invalid, expired or already used."
