from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from ..models import ApiToken
from .serializers import (
    ApiTokenSerializer,
    CurrentUserSerializer,
    IssuedTokenSerializer,
    TokenRequestSerializer,
)


class TokenIssueView(APIView):
    """Exchange a username and password for a bearer token (shown once)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token_issue"

    @extend_schema(request=TokenRequestSerializer, responses={201: IssuedTokenSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise AuthenticationFailed("Invalid username or password.")
        expires_in_s = data["expires_in_s"] or settings.API_TOKEN_DEFAULT_TTL_S or None
        token, raw = ApiToken.issue(user, name=data["name"], expires_in_s=expires_in_s)
        body = {"id": token.pk, "token": raw, "name": token.name, "expires_at": token.expires_at}
        return Response(IssuedTokenSerializer(body).data, status=status.HTTP_201_CREATED)

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The signed-in user's tokens (never their values); DELETE revokes one."""

    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.none()

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return ApiToken.objects.filter(user=self.request.user)


class CurrentUserView(APIView):
    """Who the request is authenticated as."""

    @extend_schema(responses=CurrentUserSerializer)
    def get(self, request: Request) -> Response:
        return Response(CurrentUserSerializer(request.user).data)
