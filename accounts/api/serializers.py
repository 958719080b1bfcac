from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from ..models import ApiToken

MAX_TOKEN_LIFETIME_S = 366 * 24 * 3600


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    expires_in_s = serializers.IntegerField(
        required=False, allow_null=True, min_value=60, max_value=MAX_TOKEN_LIFETIME_S, default=None
    )


class IssuedTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    token = serializers.CharField(help_text="The token value. Shown only in this response.")
    name = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "hint", "created_at", "expires_at", "last_used_at"]
        read_only_fields = fields


class CurrentUserSerializer(serializers.ModelSerializer):
    groups = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "first_name", "last_name", "email", "is_staff", "groups"]
        read_only_fields = fields

    def get_groups(self, user: Any) -> list[str]:
        return sorted(user.groups.values_list("name", flat=True))
