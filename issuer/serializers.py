"""Input validation for the issuer's API. Validation only: the rules live in issuer.services."""

from rest_framework import serializers


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    audience = serializers.SlugField(max_length=50, required=False, allow_blank=True, default="")
    # A code from an authenticator app or a recovery code, for an account with a second factor.
    otp = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096, required=False)


class SSOSessionSerializer(serializers.Serializer):
    sid = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_refreshed_at = serializers.DateTimeField()
    ip_address = serializers.IPAddressField()
    user_agent = serializers.CharField()
    audience = serializers.CharField()
    current = serializers.SerializerMethodField()

    def get_current(self, session) -> bool:
        return session.sid == self.context.get("current_sid")


class ServiceTokenSerializer(serializers.Serializer):
    """The client-credentials grant (OAuth 2.0, RFC 6749 section 4.4), credentials in the body."""

    grant_type = serializers.ChoiceField(choices=["client_credentials"], required=False)
    client_id = serializers.SlugField(max_length=50)
    client_secret = serializers.CharField(max_length=512, trim_whitespace=False, style={"input_type": "password"})
    audience = serializers.SlugField(max_length=50, help_text="The one relying app the token is for.")
    scope = serializers.RegexField(
        r"^[A-Za-z0-9:._ -]*$",
        max_length=300,
        required=False,
        allow_blank=True,
        default="",
        help_text="Space-separated.",
    )


class PasswordResetRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=4096)
    new_password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
