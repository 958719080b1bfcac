from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.serializers import StrictSerializer

from ..engine.runstate import LoopProgress, pass_scope_prefix
from ..engine.states import NodeStatus
from ..models import NodeAttempt, NodeRun, Run


class StartRunSerializer(StrictSerializer):
    inputs = serializers.DictField(required=False, default=dict)
    variables = serializers.DictField(required=False, default=dict)
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="Run this version (default: active)."
    )
    draft = serializers.BooleanField(
        required=False, default=False, help_text="Run the current draft (editor)."
    )
    wait_s = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=60,
        help_text="Answer once the run finishes, pauses or waits on a human or agent, or after this long.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("draft") and "version" in attrs:
            raise serializers.ValidationError({"version": ["Give a version or draft, not both."]})
        if attrs.get("wait_s") == 0:
            raise serializers.ValidationError({"wait_s": ["Must be more than 0 (or omitted)."]})
        return attrs


class RetryRequestSerializer(StrictSerializer):
    node_id = serializers.CharField(required=False, max_length=64)
    scope = serializers.CharField(required=False, allow_blank=True, max_length=512)


class RunSummarySerializer(serializers.ModelSerializer):
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    version = serializers.SerializerMethodField()
    is_draft = serializers.BooleanField(read_only=True)
    created_by = serializers.SerializerMethodField()
    trigger = serializers.SerializerMethodField()
    parent_run = serializers.UUIDField(
        source="parent_run_id",
        read_only=True,
        allow_null=True,
        help_text="The run whose subworkflow node started this one.",
    )
    parent_node = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "workflow",
            "workflow_name",
            "version",
            "is_draft",
            "status",
            "inputs",
            "outputs",
            "error",
            "source",
            "trigger",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "end_node_id",
            "parent_run",
            "parent_node",
            "nesting_depth",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_parent_node(self, run: Run) -> str | None:
        """The id of the parent's subworkflow node (its node run holds this run as `child_run`)."""
        return run.parent_node.node_id if run.parent_node_id is not None and run.parent_node else None

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_version(self, run: Run) -> int | None:
        return run.version.number if run.version is not None else None

    @extend_schema_field({"type": "string", "nullable": True})
    def get_created_by(self, run: Run) -> str | None:
        return run.created_by.get_username() if run.created_by is not None else None

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_trigger(self, run: Run) -> int | None:
        return run.trigger_id


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = NodeAttempt
        fields = [
            "number",
            "status",
            "input",
            "rendered",
            "output",
            "error",
            "queued_at",
            "started_at",
            "finished_at",
            "lease_expires_at",
            "claims",
            "worker",
            "usage",
            "cost_usd",
            "provider_kind",
            "model",
            "latency_ms",
        ]
        read_only_fields = fields


class AttemptSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = NodeAttempt
        fields = ["number", "status", "error", "queued_at", "started_at", "finished_at", "usage", "cost_usd"]
        read_only_fields = fields


class NodeRunSerializer(serializers.ModelSerializer):
    current_attempt = serializers.SerializerMethodField()
    passes = serializers.SerializerMethodField()
    child_run = serializers.SerializerMethodField()

    class Meta:
        model = NodeRun
        fields = [
            "node_id",
            "node_type",
            "scope",
            "status",
            "input",
            "output",
            "handle",
            "error",
            "wait_reason",
            "attempts_count",
            "started_at",
            "finished_at",
            "current_attempt",
            "passes",
            "child_run",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uuid", "nullable": True})
    def get_child_run(self, node_run: NodeRun) -> str | None:
        """A subworkflow node's latest child run, so the run view can link to it."""
        if node_run.node_type != "subworkflow":
            return None
        child = node_run.child_runs.order_by("-created_at").values_list("pk", flat=True).first()
        return str(child) if child is not None else None

    @extend_schema_field(AttemptSummarySerializer(allow_null=True))
    def get_current_attempt(self, node_run: NodeRun) -> dict[str, Any] | None:
        attempts = list(node_run.attempts.all())  # prefetched
        return AttemptSummarySerializer(attempts[-1]).data if attempts else None

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                name: {"type": "integer"} for name in ("total", "succeeded", "failed", "running", "skipped")
            },
        }
    )
    def get_passes(self, node_run: NodeRun) -> dict[str, int] | None:
        loop = (node_run.state or {}).get("loop")
        if not loop:
            return None
        progress = LoopProgress.from_json(loop)
        prefix = pass_scope_prefix(node_run.scope, node_run.node_id)
        failed_scopes = NodeRun.objects.filter(
            run_id=node_run.run_id, scope__startswith=prefix, status=NodeStatus.FAILED, handle__isnull=True
        ).values_list("scope", flat=True)
        failed = {scope[len(prefix) :].split("]", 1)[0] for scope in failed_scopes}
        total = progress.total if progress.total is not None else progress.next_index
        succeeded = len(progress.results)
        running = len(progress.active) if node_run.status == NodeStatus.RUNNING else 0
        return {
            "total": total,
            "succeeded": succeeded,
            "failed": len(failed),
            "running": running,
            "skipped": max(0, total - succeeded - len(failed) - running),
        }


class NodeRunDetailSerializer(NodeRunSerializer):
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta(NodeRunSerializer.Meta):
        fields = [*NodeRunSerializer.Meta.fields, "attempts"]
        read_only_fields = fields


class RunDetailSerializer(RunSummarySerializer):
    graph = serializers.JSONField(
        read_only=True, help_text="The graph the run runs: its version's, or the draft as it was at start."
    )
    node_runs = serializers.SerializerMethodField()

    class Meta(RunSummarySerializer.Meta):
        fields = [*RunSummarySerializer.Meta.fields, "variables", "graph", "node_runs"]
        read_only_fields = fields

    @extend_schema_field(NodeRunSerializer(many=True))
    def get_node_runs(self, run: Run) -> list[dict[str, Any]]:
        rows = run.node_runs.filter(scope="").prefetch_related("attempts").order_by("created_at", "id")
        return list(NodeRunSerializer(rows, many=True).data)


class EventSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    type = serializers.CharField()
    node_id = serializers.CharField(allow_null=True)
    scope = serializers.CharField()
    attempt = serializers.IntegerField(allow_null=True)
    ts = serializers.DateTimeField()
    # Declared fields are removed from the class by DRF, so this does not shadow Serializer.data.
    data = serializers.DictField()  # type: ignore[assignment]


class EventPageSerializer(serializers.Serializer):
    events = EventSerializer(many=True)
    next_after = serializers.IntegerField()
