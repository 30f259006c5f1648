"""Two small endpoints every relying app serves: who the presented token says you are, and a ping that
takes no credentials at all (a health check, and the benchmark's baseline for the cost of authentication)."""

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class WhoAmIView(APIView):
    """GET: the user the token names, as this app sees it. Authentication and permissions are the
    site's defaults (SSOAuthentication, IsSSOAuthenticated), so no credentials means 401."""

    def get(self, request: Request) -> Response:
        user = request.user
        return Response({"sub": user.sub, "username": user.username, "roles": list(user.roles)})


class PingView(APIView):
    """GET: a constant. No authentication class runs, so any credentials sent are ignored."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})
