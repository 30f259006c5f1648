"""The issuer's state: relying apps (each one also an OpenID Connect client) and who may use them, SSO sessions
and the revoked ones, authorization codes, consents and back-channel logout notices, signing keys, password-reset
requests, audit events, the service clients that call relying apps as themselves, and second factors (group
and app MFA policies, authenticator apps, passkeys and their challenges, recovery codes)."""

import secrets

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import Group
from django.core.validators import RegexValidator
from django.db import models
from django.utils.crypto import constant_time_compare, salted_hmac

from sso_client.claims import SERVICE_SUBJECT_PREFIX


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def new_client_id() -> str:
    return secrets.token_urlsafe(18)


# Space-separated scope names such as "stock:reserve", each made of letters, digits and ":._-".
validate_scopes = RegexValidator(r"^([A-Za-z0-9:._-]+( [A-Za-z0-9:._-]+)*)?$", "Space-separated scope names.")

# What an OpenID Connect client may ask for unless its row says otherwise.
DEFAULT_CLIENT_SCOPES = "openid profile email offline_access"


class RelyingApp(ClientMixin, models.Model):
    """A site that trusts the issuer's tokens. Its audience is what tokens name in `aud`.

    Every relying app is also an OAuth 2.0 / OpenID Connect client (`client_id`): a site under the issuer's
    parent domain may read the shared access cookie and never use it; a site on any other domain signs people
    in through the authorization code flow with the redirect URIs registered here."""

    class ClientType(models.TextChoices):
        CONFIDENTIAL = "confidential", "Confidential (has a secret)"
        PUBLIC = "public", "Public (no secret: a browser or mobile app, PKCE only)"

    name = models.CharField(max_length=100, unique=True)
    audience = models.SlugField(max_length=50, unique=True, help_text="The value tokens carry in `aud`.")
    origin = models.URLField(help_text="Public origin, e.g. https://orders.example.com (no path).")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="relying_apps")
    groups = models.ManyToManyField(Group, blank=True, related_name="relying_apps")
    is_active = models.BooleanField(default=True)
    client_id = models.CharField(
        max_length=100, unique=True, default=new_client_id, help_text="The OAuth client_id; ID tokens name it in `aud`."
    )
    client_type = models.CharField(max_length=12, choices=ClientType.choices, default=ClientType.CONFIDENTIAL)
    # A keyed digest, like a service client's (_secret_digest); empty for a public client. Shown once, at creation.
    client_secret_hash = models.CharField(max_length=256, blank=True, editable=False)
    redirect_uris = models.TextField(blank=True, help_text="One per line, matched exactly (no patterns).")
    post_logout_redirect_uris = models.TextField(
        blank=True, help_text="One per line: where RP-initiated logout may send the browser, matched exactly."
    )
    backchannel_logout_uri = models.URLField(
        blank=True, help_text="Receives a signed logout token when a session ends."
    )
    allowed_scopes = models.CharField(
        max_length=300, default=DEFAULT_CLIENT_SCOPES, validators=[validate_scopes], help_text="Space-separated."
    )
    is_first_party = models.BooleanField(
        default=False, help_text="Run by the same organisation as the issuer: no consent screen."
    )
    mfa_required = models.BooleanField(
        default=False, help_text="A password alone never yields a token for this app: a second factor is required."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.client_type == self.ClientType.PUBLIC

    @property
    def redirect_uri_list(self) -> list[str]:
        return self.redirect_uris.split()

    @property
    def post_logout_redirect_uri_list(self) -> list[str]:
        return self.post_logout_redirect_uris.split()

    @property
    def scope_list(self) -> list[str]:
        return self.allowed_scopes.split()

    def set_client_secret(self, raw_secret: str) -> None:
        self.client_secret_hash = _secret_digest(raw_secret, key=settings.SECRET_KEY)

    def check_client_secret(self, raw_secret: str) -> bool:
        """Whether `raw_secret` is this client's (a public client has none, so never)."""
        if not self.client_secret_hash:
            return False
        return any(
            constant_time_compare(_secret_digest(raw_secret, key=key), self.client_secret_hash)
            for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        )

    # Authlib's ClientMixin (issuer.services.oidc_provider): what the protocol asks of a client.

    @property
    def client_metadata(self) -> dict:
        # Read by Authlib's RP-initiated logout endpoint.
        return {"post_logout_redirect_uris": self.post_logout_redirect_uri_list}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        # OpenID Connect requires redirect_uri in every authorization request: none is assumed.
        return None

    def get_allowed_scope(self, scope: str) -> str:
        allowed = self.scope_list
        return " ".join(name for name in dict.fromkeys((scope or "").split()) if name in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match (RFC 9700 section 4.1.3): no prefix, case folding or normalisation.
        return redirect_uri in self.redirect_uri_list

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


def _access_label(access: models.Model) -> str:
    return f"access to {access.relyingapp}"


# The rows of the admin's app-access inlines are named by these (Django's default for an implicit through
# model reads "RelyingApp_users object (3)"); a method, so no migration and no change to the tables.
RelyingApp.users.through.__str__ = _access_label
RelyingApp.groups.through.__str__ = _access_label


class SSOSession(models.Model):
    """One sign-on. Every token minted from it carries its `sid`; revoking it ends them all."""

    class RevokedReason(models.TextChoices):
        LOGOUT = "logout", "Logged out"
        LOGOUT_EVERYWHERE = "logout_everywhere", "Logged out everywhere"
        ADMIN = "admin", "Revoked by staff"
        USER_DEACTIVATED = "user_deactivated", "User deactivated"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        REFRESH_REUSE = "refresh_reuse", "Refresh token reused"
        SELF = "self", "Revoked by its owner"
        CODE_REPLAY = "code_replay", "Authorization code reused"
        TOKEN_REVOKED = "token_revoked", "Token revoked by its client"
        SIGNED_OUT = "signed_out", "Its browser sign-on ended"

    sid = models.CharField(max_length=32, unique=True, default=new_session_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_sessions")
    audience = models.CharField(max_length=50, blank=True, help_text="Set when the sign-on was narrowed to one app.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="When the current refresh token expires.")
    # The only refresh token of this session that may still be used; any other one is a replay.
    refresh_jti = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revoked_reason = models.CharField(max_length=30, choices=RevokedReason.choices, blank=True)
    # What the session's access tokens name, worked out at sign-on so that a refresh reads one row: every app
    # the user may use (`aud`, before any narrowing to `audience`) and the user's roles. None means "work
    # them out again at the next refresh": a change to groups, app access or apps sets it (issuer.signals).
    token_audiences = models.JSONField(null=True, blank=True, editable=False)
    token_roles = models.JSONField(null=True, blank=True, editable=False)
    # OpenID Connect. A browser sign-on at the issuer is a session with no client; each client it signs in
    # through the authorization code flow gets a session of its own (its own sid, refresh-token family and
    # back-channel logout), linked here to the sign-on it came from: ending that one ends these.
    client = models.ForeignKey(
        RelyingApp, null=True, blank=True, on_delete=models.SET_NULL, related_name="client_sessions"
    )
    browser_session = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="client_sessions"
    )
    scope = models.CharField(max_length=300, blank=True, help_text="The OAuth scopes granted (client sessions).")
    # When and how the person last proved who they are for this sign-on (ID tokens' auth_time and amr, RFC 8176).
    auth_time = models.DateTimeField(null=True, blank=True)
    amr = models.JSONField(default=list, blank=True)
    acr = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "SSO session"

    def __str__(self) -> str:
        return f"{self.user} {self.sid}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class RevokedSession(models.Model):
    """A session's revocation as the published list needs it: the sid and when, with no link to the user, so
    it outlives the user (a deleted user's sessions go with them, their access tokens do not). The audit log
    records the same event; this row is what revoked_session_ids reads."""

    sid = models.CharField(max_length=32, unique=True)
    revoked_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.sid} revoked {self.revoked_at:%Y-%m-%d %H:%M:%S}"


class AuthorizationCode(AuthorizationCodeMixin, models.Model):
    """An authorization code handed to a client's redirect URI: one use, a minute, bound to the client, the
    redirect URI and the PKCE challenge. Only its digest is stored. `issued_session` is what its one exchange
    made; presenting the code again revokes that session (RFC 6749 section 4.1.2)."""

    code_digest = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(RelyingApp, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    browser_session = models.ForeignKey(SSOSession, on_delete=models.CASCADE, related_name="+")
    redirect_uri = models.TextField()
    scope = models.CharField(max_length=300)
    nonce = models.CharField(max_length=255, blank=True)
    code_challenge = models.CharField(max_length=128)
    code_challenge_method = models.CharField(max_length=10, default="S256")
    auth_time = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
    issued_session = models.ForeignKey(SSOSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return f"code for {self.client} user {self.user_id}"

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class Consent(models.Model):
    """A person's yes to a client that is not first-party, for these scopes; asked again for more."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents")
    client = models.ForeignKey(RelyingApp, on_delete=models.CASCADE, related_name="consents")
    scope = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "client"], name="issuer_consent_unique")]

    def __str__(self) -> str:
        return f"{self.user} consents to {self.client}: {self.scope}"


class BackchannelLogout(models.Model):
    """A logout token owed to a client's back-channel logout URI for one ended session (OpenID Connect
    Back-Channel Logout 1.0): written in the transaction that ends the session, so none is lost, delivered
    after it with a timeout and retried with backoff, never holding up the sign-out."""

    client = models.ForeignKey(RelyingApp, on_delete=models.CASCADE, related_name="+")
    sid = models.CharField(max_length=32)
    sub = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    gave_up_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"back-channel logout of {self.sid} to {self.client}"


class PasswordResetRequest(models.Model):
    """A reset link requested: its token's `jti`, and when it was used. Only a user's newest request is
    honoured, and a used one never again. A request that sent nothing (no account, mail budget spent) has no
    user, so it retires no link, and is written all the same: known and unknown addresses make the same
    queries (no enumeration by timing)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, related_name="+")
    jti = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"reset {self.jti} for user {self.user_id}"


class SigningKey(models.Model):
    """An RSA signing key. Active signs; retiring is still published; retired is neither."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRING = "retiring", "Retiring (published, not signing)"
        RETIRED = "retired", "Retired"

    kid = models.CharField(max_length=64, unique=True, editable=False)
    algorithm = models.CharField(max_length=10, default="RS256", editable=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE, db_index=True)
    public_jwk = models.JSONField(editable=False)
    # PKCS#8 PEM encrypted with SSO_KEY_PASSPHRASE; empty when the key lives in a file the deployment supplies.
    private_pem_encrypted = models.TextField(blank=True, editable=False)
    source = models.CharField(max_length=10, default="database", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retiring_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kid} ({self.state})"


class AuditEvent(models.Model):
    """An append-only record of an authentication event."""

    class Kind(models.TextChoices):
        LOGIN_SUCCEEDED = "login_succeeded", "Sign-in succeeded"
        LOGIN_FAILED = "login_failed", "Sign-in failed"
        REFRESHED = "refreshed", "Token refreshed"
        REFRESH_REUSED = "refresh_reused", "Rotated refresh token reused"
        LOGOUT = "logout", "Logged out"
        SESSION_REVOKED = "session_revoked", "Session revoked"
        KEY_ROTATED = "key_rotated", "Signing key rotated"
        KEY_RETIRED = "key_retired", "Signing key retired"
        SERVICE_TOKEN_ISSUED = "service_token_issued", "Service token issued"
        SERVICE_TOKEN_REFUSED = "service_token_refused", "Service token refused"
        PASSWORD_RESET_REQUESTED = "password_reset_requested", "Password reset requested"
        PASSWORD_RESET = "password_reset", "Password reset"
        CODE_ISSUED = "code_issued", "Authorization code issued"
        CODE_REPLAYED = "code_replayed", "Authorization code reused"
        CONSENT_GRANTED = "consent_granted", "Consent granted"
        TOKEN_REVOKED = "token_revoked", "Token revoked (RFC 7009)"
        BACKCHANNEL_LOGOUT_SENT = "backchannel_sent", "Back-channel logout delivered"
        BACKCHANNEL_LOGOUT_FAILED = "backchannel_failed", "Back-channel logout given up"
        MFA_ENROLLED = "mfa_enrolled", "Second factor added"
        MFA_REMOVED = "mfa_removed", "Second factor removed"
        MFA_SUCCEEDED = "mfa_succeeded", "Second factor accepted"
        MFA_FAILED = "mfa_failed", "Second factor refused"
        MFA_RESET = "mfa_reset", "Second factors reset by staff"
        RECOVERY_CODES_GENERATED = "recovery_codes_generated", "Recovery codes generated"
        RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        MFA_RENAMED = "mfa_renamed", "Second factor renamed"
        PROFILE_CHANGED = "profile_changed", "Profile changed"

    kind = models.CharField(max_length=30, choices=Kind.choices, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150, blank=True, help_text="As presented; kept when the user is gone.")
    sid = models.CharField(max_length=32, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.username}"


class ServiceClient(ClientMixin, models.Model):
    """A service that calls relying apps as itself (the client-credentials grant): no user, a secret,
    the apps it may call and what it may do there. Deactivating it stops it getting new tokens; the
    ones it holds expire within the service token lifetime."""

    name = models.CharField(max_length=100)
    client_id = models.SlugField(max_length=50, unique=True, help_text="Tokens name it as `sub` service:<client id>.")
    # A keyed digest (check_secret): a leaked database does not hand out the secrets.
    secret_hash = models.CharField(max_length=256, editable=False)
    audiences = models.ManyToManyField(
        RelyingApp, blank=True, related_name="service_clients", help_text="The apps it may get tokens for."
    )
    scopes = models.CharField(
        max_length=300, blank=True, validators=[validate_scopes], help_text="Space-separated, e.g. stock:reserve."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    secret_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["client_id"]

    def __str__(self) -> str:
        return self.client_id

    @property
    def subject(self) -> str:
        return f"{SERVICE_SUBJECT_PREFIX}{self.client_id}"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def set_secret(self, raw_secret: str) -> None:
        self.secret_hash = _secret_digest(raw_secret, key=settings.SECRET_KEY)

    def check_secret(self, raw_secret: str) -> bool:
        """Whether `raw_secret` is this client's. A digest made under a fallback key (SECRET_KEY_FALLBACKS,
        during a key rotation) or a password hash from before keyed digests is accepted and stored anew."""
        if not self.secret_hash.startswith(SECRET_DIGEST_PREFIX):
            if not check_password(raw_secret, self.secret_hash):
                return False
            self._store_secret(raw_secret)
            return True
        for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
            if constant_time_compare(_secret_digest(raw_secret, key=key), self.secret_hash):
                if key != settings.SECRET_KEY:
                    self._store_secret(raw_secret)
                return True
        return False

    def _store_secret(self, raw_secret: str) -> None:
        self.set_secret(raw_secret)
        self.save(update_fields=["secret_hash"])

    # Authlib's ClientMixin: a service client has a secret and uses the client-credentials grant only.

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return self.is_active and self.check_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


# Client secrets are 256 random bits made by the issuer (service_client_secret_generate), so a keyed digest
# protects a leaked database as well as a password hasher would, at a microsecond instead of a password hash's
# CPU: a slow hash here let a burst of service-token requests queue behind it and time out the callers.
SECRET_DIGEST_PREFIX = "hmac_sha256$"


def _secret_digest(raw_secret: str, *, key: str) -> str:
    mac = salted_hmac("issuer.service-client-secret", raw_secret, secret=key, algorithm="sha256")
    return SECRET_DIGEST_PREFIX + mac.hexdigest()


class ThrottleCounter(models.Model):
    """One security counter (failed sign-ons per username or address, reset mails per address) and the end
    of its window. In the database, not the cache: a cache evicts entries under memory pressure, and anything
    an attacker can make the issuer write there would then flush a lockout (issuer.services.throttles)."""

    scope = models.CharField(max_length=40)
    # A digest of the identity (a username, an address, an email): attacker-chosen text is never a key.
    key = models.CharField(max_length=64)
    count = models.PositiveIntegerField(default=0)
    window_ends_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="issuer_throttle_counter_unique")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key[:12]} {self.count}"


class GroupMFAPolicy(models.Model):
    """ "MFA required" for the members of a group: a password alone never yields them a token for any app."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="mfa_policy")
    mfa_required = models.BooleanField(default=True)

    class Meta:
        verbose_name = "group MFA policy"
        verbose_name_plural = "group MFA policies"

    def __str__(self) -> str:
        return f"{self.group}: MFA {'required' if self.mfa_required else 'optional'}"


class TOTPDevice(models.Model):
    """An authenticator app (RFC 6238) a person enrolled: its secret encrypted at rest, and the last time step
    accepted, so that a code is good once (any code at or before it is refused)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_devices")
    name = models.CharField(max_length=100)
    secret_encrypted = models.TextField(editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="Enrolment confirmed with a correct code.")
    last_used_step = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = "authenticator app"
        permissions = [("reset_second_factors", "Can reset a user's second factors")]

    def __str__(self) -> str:
        return f"{self.user}: {self.name}"


class WebAuthnCredential(models.Model):
    """A passkey or security key (WebAuthn) a person registered: as a second factor, and as passwordless sign-in
    when it is discoverable and verifies the user. The sign counter must increase (or stay 0 for authenticators
    that never count): a counter that goes back means a cloned authenticator."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=100)
    credential_id = models.CharField(max_length=1400, unique=True, help_text="base64url")
    public_key = models.TextField(help_text="COSE public key, base64url", editable=False)
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    is_discoverable = models.BooleanField(default=False)
    backed_up = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = "passkey"

    def __str__(self) -> str:
        return f"{self.user}: {self.name}"


class WebAuthnChallenge(models.Model):
    """A challenge handed to a browser for one WebAuthn ceremony: single use, short-lived, bound to the browser
    that asked for it (`binding_digest`, a digest of a value in that browser's cookie), only its digest stored."""

    class Purpose(models.TextChoices):
        REGISTER = "register", "Registration"
        AUTHENTICATE = "authenticate", "Authentication"

    challenge_digest = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    binding_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.purpose} challenge for user {self.user_id}"


class RecoveryCode(models.Model):
    """One of a person's ten recovery codes: a keyed digest, good once. Generating a new set deletes the old."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    code_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_digest"], name="issuer_recovery_code_unique")]

    def __str__(self) -> str:
        return f"recovery code of {self.user} ({'used' if self.used_at else 'unused'})"
