"""Input validation for the issuer's API. Validation only: the rules live in issuer.services."""

from rest_framework import serializers


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    audience = serializers.SlugField(max_length=50, required=False, allow_blank=True, default="")


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
