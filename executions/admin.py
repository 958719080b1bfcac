from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .engine.states import IllegalTransition
from .models import (
    Approval,
    ApprovalDecision,
    ApprovalLink,
    NodeAttempt,
    NodeRun,
    OutboxMessage,
    Run,
    RunEvent,
    Timer,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """The execution ledger changes only through the engine; the admin reads it."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "workflow",
        "version",
        "status",
        "source",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "source", "created_at", "workflow"]
    search_fields = ["id", "workflow__name", "created_by__username"]
    list_select_related = ["workflow", "version", "created_by"]
    date_hierarchy = "created_at"
    actions = ["cancel_selected", "retry_selected"]

    @admin.action(description="Cancel selected runs")
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        self._control(
            request, queryset, lambda run: services.cancel_run(run.pk, by=request.user.get_username())
        )

    @admin.action(description="Retry the failed nodes of selected runs")
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        self._control(request, queryset, lambda run: services.retry_run(run.pk))

    def _control(self, request: HttpRequest, queryset: QuerySet[Run], action: object) -> None:
        done, refused = 0, []
        for run in queryset:
            try:
                action(run)  # type: ignore[operator]
                done += 1
            except (IllegalTransition, services.NothingToRetry) as error:
                refused.append(f"{run.pk}: {error}")
        if done:
            self.message_user(request, f"{done} run(s) done.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)


@admin.register(NodeRun)
class NodeRunAdmin(ReadOnlyAdmin):
    list_display = [
        "node_id",
        "scope",
        "node_type",
        "status",
        "run",
        "attempts_count",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "node_type", "wait_reason"]
    search_fields = ["node_id", "scope", "run__id"]
    list_select_related = ["run"]


@admin.register(NodeAttempt)
class NodeAttemptAdmin(ReadOnlyAdmin):
    list_display = [
        "node_run",
        "number",
        "status",
        "claims",
        "worker",
        "started_at",
        "finished_at",
        "lease_expires_at",
    ]
    list_filter = ["status", "provider_kind"]
    search_fields = ["node_run__node_id", "run__id", "worker"]
    list_select_related = ["node_run"]


@admin.register(RunEvent)
class RunEventAdmin(ReadOnlyAdmin):
    list_display = ["run", "seq", "type", "node_id", "scope", "attempt", "ts"]
    list_filter = ["type"]
    search_fields = ["run__id", "node_id"]
    list_select_related = ["run"]


@admin.register(Timer)
class TimerAdmin(ReadOnlyAdmin):
    list_display = ["kind", "run", "node_run", "due_at", "created_at"]
    list_filter = ["kind"]
    search_fields = ["run__id"]
    list_select_related = ["run", "node_run"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["kind", "created_at", "attempts", "next_attempt_at", "sent_at", "last_error"]
    list_filter = ["kind", "sent_at"]


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = [
        "title",
        "workflow",
        "status",
        "required_approvals",
        "escalated",
        "due_at",
        "decided_by",
        "created_at",
    ]
    list_filter = ["status", "escalated", "timed_out", "on_timeout", "workflow", "created_at"]
    search_fields = ["title", "instructions", "run__id", "workflow__name"]
    list_select_related = ["workflow", "decided_by"]
    filter_horizontal = ["assigned_users", "assigned_groups"]
    actions = ["cancel_selected"]

    @admin.action(description="Cancel selected approvals (their nodes fail)")
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Approval]) -> None:
        from . import approvals

        cancelled = sum(
            1 for approval in queryset if approvals.cancel(approval.pk, by=request.user.get_username())
        )
        self.message_user(request, f"{cancelled} approval(s) cancelled.", messages.SUCCESS)


@admin.register(ApprovalDecision)
class ApprovalDecisionAdmin(ReadOnlyAdmin):
    list_display = ["approval", "user", "decision", "at"]
    list_filter = ["decision"]
    search_fields = ["approval__title", "user__username"]
    list_select_related = ["approval", "user"]


@admin.register(ApprovalLink)
class ApprovalLinkAdmin(ReadOnlyAdmin):
    list_display = ["approval", "recipient", "expires_at", "used_at", "created_at"]
    list_filter = ["used_at"]
    list_select_related = ["approval", "recipient"]
