"""The external agent protocol over HTTP (DESIGN §6, §7).

Users (bearer token or session) register agents, list them and revoke them. Agents (their own
`fda_…` token, agents.authentication) heartbeat, claim tasks, extend their leases, and complete or
fail the tasks they hold. Views parse, call agents.external, and serialise.

Who may register: staff, superusers, and users with the permission "agents | external agent | Can
add external agent" (`agents.add_externalagent`). Grant it in the admin under Authentication and
Authorization → Users (or Groups) → Permissions.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.serializers import StrictSerializer

from .. import external
from ..authentication import AgentTokenAuthentication, IsExternalAgent, agent_of
from ..models import AgentTask, ExternalAgent

MAX_LEASE_NO = 2**31 - 1

# ====================================================================================
# Serializers
# ====================================================================================


def capability_list(**options: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=200, trim_whitespace=False),
        min_length=1,
        max_length=external.MAX_CAPABILITIES,
        **options,
    )


class ProblemSerializer(serializers.Serializer):
    detail = serializers.CharField()
    status = serializers.CharField(required=False, help_text="The task's status, when that is the reason.")


class RegisterRequestSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    capabilities = capability_list(help_text="What the agent can do, e.g. `ocr`; matched exactly.")
    version = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class RegisteredAgentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    token = serializers.CharField(help_text="The agent's token (`fda_…`). Shown once; store it.")
    name = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())


class ExternalAgentSerializer(serializers.ModelSerializer):
    registered_by = serializers.CharField(source="registered_by.get_username", read_only=True)
    is_alive = serializers.BooleanField(
        read_only=True, help_text="Not revoked, and heartbeated within EXTERNAL_AGENT_ALIVE_S."
    )

    class Meta:
        model = ExternalAgent
        fields = [
            "id",
            "name",
            "capabilities",
            "version",
            "registered_by",
            "created_at",
            "last_heartbeat_at",
            "is_alive",
            "revoked_at",
        ]
        read_only_fields = fields


class HeartbeatSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    alive = serializers.BooleanField()
    server_time = serializers.DateTimeField()


class ClaimRequestSerializer(StrictSerializer):
    capabilities = capability_list(
        required=False,
        help_text="Claim only tasks of these (default: every capability the agent registered).",
    )
    wait_s = serializers.FloatField(
        min_value=0,
        max_value=external.MAX_WAIT_S,
        required=False,
        default=0,
        help_text="Long-poll: wait up to this many seconds for a task before answering 204.",
    )


class LeaseSerializer(serializers.Serializer):
    task_id = serializers.UUIDField()
    capability = serializers.CharField()
    lease_no = serializers.IntegerField(help_text="Quote it to extend, complete or fail the task.")
    lease_expires_at = serializers.DateTimeField()
    input = serializers.JSONField()


class LeaseNumberMixin(StrictSerializer):
    lease_no = serializers.IntegerField(min_value=1, max_value=MAX_LEASE_NO)


class CompleteRequestSerializer(LeaseNumberMixin):
    result = serializers.JSONField(allow_null=True, help_text="The node's output; at most 1 MB of JSON.")


class FailureSerializer(StrictSerializer):
    message = serializers.CharField(max_length=10_000)
    code = serializers.RegexField(r"^[A-Za-z0-9_.:-]+$", max_length=64, required=False, default="")


class FailRequestSerializer(LeaseNumberMixin):
    error = FailureSerializer()


class ExtendRequestSerializer(LeaseNumberMixin):
    lease_s = serializers.IntegerField(
        min_value=1,
        max_value=external.MAX_LEASE_S,
        required=False,
        allow_null=True,
        default=None,
        help_text="New lease length from now (default: the task's lease_s).",
    )


class TaskStateSerializer(serializers.ModelSerializer):
    task_id = serializers.UUIDField(source="pk", read_only=True)

    class Meta:
        model = AgentTask
        fields = ["task_id", "status", "lease_no", "lease_expires_at"]
        read_only_fields = fields


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def refused(error: external.AgentRefused) -> Response:
    return Response(error.body(), status=error.http_status)


PROBLEMS = {
    400: OpenApiResponse(description="Invalid body (field errors)."),
    401: OpenApiResponse(ProblemSerializer, description="Missing, invalid or revoked agent token."),
}
LEASE_PROBLEMS = {
    **PROBLEMS,
    403: OpenApiResponse(ProblemSerializer, description="The agent never held a lease on this task."),
    404: OpenApiResponse(ProblemSerializer, description="No such task."),
    409: OpenApiResponse(
        ProblemSerializer,
        description="The lease is stale or expired, or the task is already completed, failed or cancelled.",
    ),
}

# ====================================================================================
# Users: register, list, revoke
# ====================================================================================


class CanRegisterAgents(permissions.BasePermission):
    message = "Registering agents needs the permission agents.add_externalagent."

    def has_permission(self, request: Request, view: Any) -> bool:
        return external.may_register_agents(request.user)


class ExternalAgentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """External agents: staff see all of them, other users the ones they registered."""

    serializer_class = ExternalAgentSerializer
    queryset = ExternalAgent.objects.none()
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    filterset_class = None

    def get_queryset(self) -> QuerySet[ExternalAgent]:
        return external.visible_external_agents(self.request.user).order_by("name", "created_at")

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ExternalAgentSerializer(external.get_external_agent_for(request.user, pk)).data)

    @extend_schema(
        summary="Register an external agent",
        description="Needs staff or the permission `agents.add_externalagent`. The token in the answer "
        "is shown only this once.",
        request=RegisterRequestSerializer,
        responses={201: RegisteredAgentSerializer, 400: PROBLEMS[400], 403: ProblemSerializer},
    )
    @action(detail=False, methods=["post"], permission_classes=[CanRegisterAgents])
    def register(self, request: Request) -> Response:
        data = validated(RegisterRequestSerializer, request.data)
        agent, token = external.register(
            request.user, name=data["name"], capabilities=data["capabilities"], version=data["version"]
        )
        body = {"id": agent.pk, "token": token, "name": agent.name, "capabilities": agent.capabilities}
        return Response(RegisteredAgentSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke an external agent",
        description="Its token stops working at once (401) and its leases are taken back: their tasks "
        "are offered again (each counts towards the task's max_leases).",
        request=None,
        responses={200: ExternalAgentSerializer, 404: ProblemSerializer, 409: ProblemSerializer},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        agent = external.get_external_agent_for(request.user, pk)
        try:
            agent = external.revoke(agent)
        except external.AgentRefused as error:
            return refused(error)
        return Response(ExternalAgentSerializer(agent).data)


# ====================================================================================
# Agents: heartbeat, claim, extend, complete, fail
# ====================================================================================


class AgentView(APIView):
    authentication_classes = [AgentTokenAuthentication]
    permission_classes = [IsExternalAgent]


class HeartbeatView(AgentView):
    @extend_schema(
        summary="Heartbeat",
        description="Marks the agent alive (it counts as alive for EXTERNAL_AGENT_ALIVE_S seconds).",
        request=None,
        responses={200: HeartbeatSerializer, 401: PROBLEMS[401]},
    )
    def post(self, request: Request) -> Response:
        agent = agent_of(request)
        now = external.heartbeat(agent)
        return Response(HeartbeatSerializer({"id": agent.pk, "alive": True, "server_time": now}).data)


class ClaimTaskView(AgentView):
    @extend_schema(
        summary="Claim a task",
        description="Leases the oldest open task of the given capabilities. With `wait_s`, waits up to "
        "that long (at most 30 s) for one to be offered; 204 when none came.",
        request=ClaimRequestSerializer,
        responses={200: LeaseSerializer, 204: OpenApiResponse(description="No task in time."), **PROBLEMS},
    )
    def post(self, request: Request) -> Response:
        agent = agent_of(request)
        data = validated(ClaimRequestSerializer, request.data)
        try:
            lease = external.claim(agent, data.get("capabilities"), data["wait_s"])
        except external.AgentRefused as error:
            return refused(error)
        if lease is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(LeaseSerializer(lease).data)


class CompleteTaskView(AgentView):
    @extend_schema(
        summary="Complete a task",
        description="Records the result under the current lease; the waiting node succeeds with it as "
        "its output, exactly once.",
        request=CompleteRequestSerializer,
        responses={
            200: TaskStateSerializer,
            **LEASE_PROBLEMS,
            413: OpenApiResponse(ProblemSerializer, description="The result is larger than 1 MB."),
        },
    )
    def post(self, request: Request, task_id: str) -> Response:
        agent = agent_of(request)
        data = validated(CompleteRequestSerializer, request.data)
        try:
            task = external.complete(agent, task_id, data["lease_no"], data["result"])
        except external.AgentRefused as error:
            return refused(error)
        return Response(TaskStateSerializer(task).data)


class FailTaskView(AgentView):
    @extend_schema(
        summary="Fail a task",
        description="The node fails with code `agent_failed` and the agent's message; its on_error "
        "applies. Final: not offered again (let the lease lapse instead to have it offered again).",
        request=FailRequestSerializer,
        responses={200: TaskStateSerializer, **LEASE_PROBLEMS},
    )
    def post(self, request: Request, task_id: str) -> Response:
        agent = agent_of(request)
        data = validated(FailRequestSerializer, request.data)
        error = data["error"]
        try:
            task = external.fail(agent, task_id, data["lease_no"], error["message"], error["code"])
        except external.AgentRefused as refusal:
            return refused(refusal)
        return Response(TaskStateSerializer(task).data)


class ExtendTaskView(AgentView):
    @extend_schema(
        summary="Extend a lease",
        description="The lease now expires `lease_s` seconds (default: the task's lease_s) from now.",
        request=ExtendRequestSerializer,
        responses={200: LeaseSerializer, **LEASE_PROBLEMS},
    )
    def post(self, request: Request, task_id: str) -> Response:
        agent = agent_of(request)
        data = validated(ExtendRequestSerializer, request.data)
        try:
            lease = external.extend(agent, task_id, data["lease_no"], data["lease_s"])
        except external.AgentRefused as error:
            return refused(error)
        return Response(LeaseSerializer(lease).data)
