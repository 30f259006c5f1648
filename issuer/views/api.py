"""The issuer's first-party JSON API: token endpoints, logout, sessions, the revocation list, service tokens.
Thin: services decide. (The OpenID Connect endpoints are in issuer/views/oidc.py, discovery in discovery.py.)"""

from django.db.models import QuerySet
from rest_framework import exceptions, generics, pagination, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import messages, metrics
from ..http import client_ip
from ..models import SSOSession
from ..selectors import user_sessions_live
from ..serializers import (
    LogoutSerializer,
    RefreshSerializer,
    ServiceTokenSerializer,
    SSOSessionSerializer,
    TokenObtainSerializer,
)
from ..services import mfa, service_clients
from ..services.credentials import InvalidCredentials, LoginThrottled, SignInBusy, credentials_authenticate
from ..services.errors import SignOnError
from ..services.revocations import revoked_session_ids
from ..services.sessions import (
    AudienceNotAllowed,
    MFARequired,
    TokenPair,
    TokenTooLarge,
    logout,
    session_refresh,
    session_revoke,
    session_start,
    user_sessions_revoke,
)
from ..services.totp import CodeRefused, CodeThrottled
from ..signing import keys


def token_pair_body(pair: TokenPair) -> dict:
    return {
        "access": pair.access,
        "refresh": pair.refresh,
        "token_type": "Bearer",
        "expires_in": pair.access_expires_in,
        "sid": pair.session.sid,
    }


class SignInBusyError(exceptions.APIException):
    """503, not 429: the server is short of capacity, not the client over a limit of its own; a client that
    backs off on 429 as a per-client rule should not learn a rule from a storm. DRF's handler turns `wait` into
    Retry-After."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = messages.SIGN_IN_BUSY
    default_code = "sign_in_busy"

    def __init__(self, wait: int) -> None:
        super().__init__()
        self.wait = wait


class PublicAPIView(APIView):
    """An endpoint that takes credentials in its body, not in a header: no authentication, no CSRF."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        # Refusals here are 401 (with a challenge), not DRF's 403 for views without authentication classes.
        return 'Bearer realm="sso"'


class MFAChallenge(exceptions.AuthenticationFailed):
    """401 for an account with a second factor and no (or a wrong) `otp`: names the field and the browser flow."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail, code)
        self.detail = {"detail": detail, "code": code, "field": "otp", "browser": "/login/"}


class TokenObtainView(PublicAPIView):
    """POST username + password (+ optional audience) -> access + refresh. An account with a second factor
    also sends `otp`: a code from its authenticator app or a recovery code (else 401 `mfa_required`)."""

    def post(self, request: Request) -> Response:
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ip = client_ip(request)
        try:
            user = credentials_authenticate(username=data["username"], password=data["password"], ip=ip)
            amr = ["pwd"]
            if mfa.user_has_second_factor(user):
                if not data["otp"]:
                    raise MFAChallenge(messages.API_MFA_REQUIRED, "mfa_required")
                amr = mfa.amr_complete([*amr, *mfa.code_verify(user=user, code=data["otp"], ip=ip)])
            pair = session_start(
                user=user,
                audience=data["audience"],
                ip=ip,
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                amr=amr,
            )
        except (LoginThrottled, CodeThrottled) as e:
            raise exceptions.Throttled(wait=e.retry_after, detail=messages.API_LOGIN_THROTTLED, code="throttled") from e
        except SignInBusy as e:
            raise SignInBusyError(wait=e.retry_after) from e
        except InvalidCredentials as e:
            raise exceptions.AuthenticationFailed(messages.API_INVALID_CREDENTIALS, code="invalid_credentials") from e
        except CodeRefused as e:
            raise MFAChallenge(messages.API_MFA_REFUSED, "mfa_invalid") from e
        except MFARequired as e:
            raise exceptions.PermissionDenied(messages.API_MFA_NEEDED_FOR_APP, code="mfa_required") from e
        except AudienceNotAllowed as e:
            raise exceptions.PermissionDenied(messages.AUDIENCE_NOT_ALLOWED, code="audience_not_allowed") from e
        except TokenTooLarge as e:
            raise exceptions.PermissionDenied(messages.TOKEN_TOO_LARGE, code="token_too_large") from e
        return Response(token_pair_body(pair))


class TokenRefreshView(PublicAPIView):
    """POST refresh -> a new access token and a rotated refresh token."""

    def post(self, request: Request) -> Response:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            pair = session_refresh(raw_refresh=serializer.validated_data["refresh"], ip=client_ip(request))
        except MFARequired as e:
            raise exceptions.PermissionDenied(messages.API_MFA_NEEDED_FOR_APP, code="mfa_required") from e
        except SignOnError as e:
            metrics.REFRESHES.labels(outcome="rejected").inc()
            raise exceptions.AuthenticationFailed(messages.TOKEN_NOT_VALID, code="token_not_valid") from e
        return Response(token_pair_body(pair))


class LogoutView(APIView):
    """POST {refresh}, or an access token as Bearer: end that session everywhere."""

    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        raw_refresh = serializer.validated_data.get("refresh")
        ip = client_ip(request)
        if raw_refresh:
            try:
                logout(raw_refresh=raw_refresh, ip=ip)
            except SignOnError as e:
                raise exceptions.AuthenticationFailed(messages.TOKEN_NOT_VALID, code="token_not_valid") from e
        elif request.auth is not None:
            session = SSOSession.objects.select_related("user").get(sid=request.auth["sid"])
            session_revoke(session=session, reason=SSOSession.RevokedReason.LOGOUT, ip=ip)
        else:
            raise exceptions.NotAuthenticated("Send the refresh token, or the access token as Bearer.")
        return Response({"detail": "Signed out."})


class LogoutEverywhereView(APIView):
    """POST with an access token: end every session of its user."""

    def post(self, request: Request) -> Response:
        count = user_sessions_revoke(
            user=request.user, reason=SSOSession.RevokedReason.LOGOUT_EVERYWHERE, ip=client_ip(request)
        )
        return Response({"detail": "Signed out everywhere.", "sessions_revoked": count})


class SessionPages(pagination.PageNumberPagination):
    """50 sessions a page; `?page_size=` asks for up to 200."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class SessionListView(generics.ListAPIView):
    """GET the caller's live sessions, newest first and a page at a time: `count`, `next`, `previous` and
    `results` (`?page=2`, `?page_size=` up to 200)."""

    serializer_class = SSOSessionSerializer
    pagination_class = SessionPages

    def get_queryset(self) -> QuerySet[SSOSession]:
        return user_sessions_live(user=self.request.user)

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "current_sid": self.request.auth["sid"]}


class SessionRevokeView(APIView):
    """POST to end one of the caller's own sessions."""

    def post(self, request: Request, sid: str) -> Response:
        session = SSOSession.objects.select_related("user").filter(user=request.user, sid=sid).first()
        if session is None:
            raise exceptions.NotFound()
        session_revoke(session=session, reason=SSOSession.RevokedReason.SELF, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RevocationListView(PublicAPIView):
    """GET the revoked session ids whose access tokens may still be live: relying apps poll this. It also
    names the published key ids, so a relying app learns of a rotation or a retirement within its polling
    interval, without waiting for its JWKS copy to age or for a token with an unknown kid."""

    def get(self, request: Request) -> Response:
        revoked = revoked_session_ids()
        response = Response({"revoked_sids": revoked, "count": len(revoked), "kids": keys.published_kids()})
        response["Cache-Control"] = "no-cache"
        return response


class ServiceTokenView(PublicAPIView):
    """POST client_id + client_secret + audience (+ scope) -> a short-lived service token for that one app. An
    alias of the token endpoint's client_credentials grant (issuer.views.oidc.token), kept for existing callers."""

    def post(self, request: Request) -> Response:
        serializer = ServiceTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ip = client_ip(request)
        try:
            client = service_clients.service_client_authenticate(
                client_id=data["client_id"], client_secret=data["client_secret"], ip=ip
            )
            grant = service_clients.service_token_issue(
                client=client, audience=data["audience"], scope=data["scope"], ip=ip
            )
        except service_clients.ClientThrottled as e:
            raise exceptions.Throttled(wait=e.retry_after, detail=messages.CLIENT_THROTTLED, code="throttled") from e
        except service_clients.InvalidClient as e:
            raise exceptions.AuthenticationFailed(messages.INVALID_CLIENT, code="invalid_client") from e
        except service_clients.AudienceNotAllowed as e:
            raise exceptions.PermissionDenied(messages.CLIENT_AUDIENCE_NOT_ALLOWED, code="audience_not_allowed") from e
        except service_clients.ScopeNotAllowed as e:
            raise exceptions.PermissionDenied(messages.SCOPE_NOT_ALLOWED, code="scope_not_allowed") from e
        # RFC 6749 section 5.1: a token response is never cached.
        headers = {"Cache-Control": "no-store"}
        return Response(grant.response_body(), headers=headers)
