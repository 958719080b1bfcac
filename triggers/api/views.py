"""`/api/workflows/{id}/triggers/…`: viewers of the workflow see its triggers (never a secret);
editors create, change, delete them and rotate webhook secrets."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.pagination import MAX_DATABASE_INTEGER
from workflows.access import get_workflow_for
from workflows.choices import Role
from workflows.models import Workflow

from .. import services
from ..config import ConfigInvalid
from ..models import Trigger
from .serializers import (
    RotateSecretSerializer,
    TriggerCreateSerializer,
    TriggerDetailSerializer,
    TriggerSerializer,
    TriggerUpdateSerializer,
    TriggerWithSecretSerializer,
)


def validated(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def config_error(error: ConfigInvalid) -> ValidationError:
    return ValidationError({"config": error.errors})


class TriggerViewSet(viewsets.GenericViewSet):
    serializer_class = TriggerSerializer
    queryset = Trigger.objects.none()

    def workflow(self, minimum_role: str) -> Workflow:
        return get_workflow_for(self.request.user, self.kwargs["workflow_pk"], minimum_role)

    def get_queryset(self) -> QuerySet[Trigger]:
        return Trigger.objects.select_related("owner").order_by("created_at", "id")

    def trigger(self, minimum_role: str) -> Trigger:
        """The trigger, found only through a workflow the user holds ``minimum_role`` on."""
        workflow = self.workflow(minimum_role)
        if int(self.kwargs["pk"]) > MAX_DATABASE_INTEGER:
            raise Http404("No such trigger.")
        found = self.get_queryset().filter(workflow=workflow, pk=self.kwargs["pk"]).first()
        if found is None:
            raise Http404("No such trigger.")
        return found

    def context(self, **extra: Any) -> dict[str, Any]:
        return {**self.get_serializer_context(), "now": timezone.now(), **extra}

    @extend_schema(responses=TriggerSerializer(many=True))
    def list(self, request: Request, workflow_pk: int) -> Response:
        workflow = self.workflow(Role.VIEWER)
        page = self.paginate_queryset(self.get_queryset().filter(workflow=workflow))
        return self.get_paginated_response(TriggerSerializer(page, many=True, context=self.context()).data)

    @extend_schema(request=TriggerCreateSerializer, responses={201: TriggerWithSecretSerializer})
    def create(self, request: Request, workflow_pk: int) -> Response:
        """A webhook's answer carries its `secret`: the only time it is shown."""
        workflow = self.workflow(Role.EDITOR)
        data = validated(TriggerCreateSerializer, request.data)
        try:
            saved = services.create_trigger(workflow=workflow, owner=request.user, **data)
        except ConfigInvalid as error:
            raise config_error(error) from None
        body = TriggerWithSecretSerializer(saved.trigger, context=self.context(secret=saved.secret)).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses=TriggerDetailSerializer)
    def retrieve(self, request: Request, workflow_pk: int, pk: int) -> Response:
        return Response(TriggerDetailSerializer(self.trigger(Role.VIEWER), context=self.context()).data)

    @extend_schema(request=TriggerUpdateSerializer, responses=TriggerDetailSerializer)
    def partial_update(self, request: Request, workflow_pk: int, pk: int) -> Response:
        """Changing `config` or enabling the trigger makes you its owner: its runs run as you."""
        trigger = self.trigger(Role.EDITOR)
        data = validated(TriggerUpdateSerializer, request.data)
        kind = data.pop("kind", None)
        if kind is not None and kind != trigger.kind:
            raise ValidationError({"kind": ["A trigger's kind cannot change; create another trigger."]})
        try:
            saved = services.update_trigger(trigger, by=request.user, **data)
        except ConfigInvalid as error:
            raise config_error(error) from None
        return Response(TriggerDetailSerializer(saved.trigger, context=self.context()).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workflow_pk: int, pk: int) -> Response:
        """Delete the trigger; the runs it started stay (their `trigger` becomes null)."""
        self.trigger(Role.EDITOR).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=RotateSecretSerializer, responses=TriggerWithSecretSerializer)
    def rotate_secret(self, request: Request, workflow_pk: int, pk: int) -> Response:
        """A new webhook secret (shown once); the old one stays valid for `grace_s` seconds."""
        trigger = self.trigger(Role.EDITOR)
        data = validated(RotateSecretSerializer, request.data)
        try:
            saved = services.rotate_secret(trigger, data["grace_s"])
        except services.TriggerRefused as refusal:
            return Response(refusal.body(), status=refusal.status)
        return Response(
            TriggerWithSecretSerializer(saved.trigger, context=self.context(secret=saved.secret)).data
        )
