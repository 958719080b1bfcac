"""The ledger of executions: runs, node runs, attempts, events, timers and the outbox.

Postgres is the source of truth: every change to a run happens in one transaction that locks the
run row first, so these rows are always mutually consistent, and anything lost in Redis is found
again by the sweep reading them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from workflows.models import Workflow, WorkflowVersion

from .engine.approvals import ApprovalStatus
from .engine.states import AttemptStatus, NodeStatus, RunStatus


class RunSource(models.TextChoices):
    MANUAL = "manual", "Manual (browser)"
    API = "api", "API"
    WEBHOOK = "webhook", "Webhook"
    SCHEDULE = "schedule", "Schedule"
    WORKFLOW_EVENT = "workflow_event", "Workflow event"
    RETRY = "retry", "Re-run"
    SUBWORKFLOW = "subworkflow", "Sub-workflow node"


RUN_STATUS_CHOICES = [(status.value, status.value) for status in RunStatus]
NODE_STATUS_CHOICES = [(status.value, status.value) for status in NodeStatus]
APPROVAL_STATUS_CHOICES = [(status.value, status.value) for status in ApprovalStatus]
ATTEMPT_STATUS_CHOICES = [(status.value, status.value) for status in AttemptStatus]


class Run(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey(Workflow, on_delete=models.PROTECT, related_name="runs")
    #: The published version the run is pinned to; NULL for a draft run.
    version = models.ForeignKey(
        WorkflowVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )
    #: For draft runs, the draft graph as it was when the run started (the draft may change after).
    draft_graph = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RUN_STATUS_CHOICES, default=RunStatus.PENDING)
    inputs = models.JSONField(default=dict, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=RunSource.choices, default=RunSource.API)
    #: The trigger that started the run (webhook, schedule, workflow event); NULL otherwise.
    trigger = models.ForeignKey(
        "triggers.Trigger", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    #: How many workflow-event triggers led to this run (0 for a run nobody's run started);
    #: bounded so workflows that trigger each other cannot loop forever.
    chain_depth = models.PositiveSmallIntegerField(default=0)
    #: The run whose `subworkflow` node started this one, and that node run; NULL otherwise.
    parent_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="child_runs"
    )
    parent_node = models.ForeignKey(
        "NodeRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="child_runs"
    )
    #: How many `subworkflow` nodes led to this run (0 for a top-level run); bounded by
    #: SUBWORKFLOW_MAX_DEPTH so a workflow calling itself cannot nest forever.
    nesting_depth = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: Changed on every transaction that touches the run: the sweep finds runs left idle.
    updated_at = models.DateTimeField(auto_now=True)
    #: The `end` node whose outputs became the run's outputs.
    end_node_id = models.CharField(max_length=64, null=True, blank=True)
    #: The seq the next event gets; only ever read and bumped with the run row locked (gap-free).
    next_seq = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workflow", "status"]),
            models.Index(fields=["status", "updated_at"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.workflow_id} ({self.status})"

    @property
    def is_draft(self) -> bool:
        return self.version_id is None

    @property
    def graph(self) -> dict:  # type: ignore[type-arg]
        if self.version_id is not None:
            return self.version.graph  # type: ignore[union-attr,no-any-return]
        return self.draft_graph or {}

    @property
    def is_finished(self) -> bool:
        return self.status in {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}


class NodeRun(models.Model):
    """One node in one scope of one run (a loop body node has one per pass)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="node_runs")
    node_id = models.CharField(max_length=64)
    #: "" at top level; "loop[2]" in pass 2 of loop; "outer[1]/inner[0]" when nested. Never NULL.
    scope = models.CharField(max_length=512, default="", blank=True)
    node_type = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=NODE_STATUS_CHOICES, default=NodeStatus.PENDING)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    handle = models.CharField(max_length=64, null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    #: What a waiting node waits for: "approval", "timer" or "agent" ("" when not waiting).
    wait_reason = models.CharField(max_length=16, blank=True, default="")
    #: Loop progress, wait details and cancellation reason (see executions.engine.runstate).
    state = models.JSONField(default=dict, blank=True)
    attempts_count = models.PositiveIntegerField(default=0)
    succeeded_seq = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "scope", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "node_id", "scope"], name="one_node_run_per_node_and_scope"
            )
        ]
        indexes = [models.Index(fields=["run", "scope"]), models.Index(fields=["run", "status"])]

    def __str__(self) -> str:
        where = f" in {self.scope}" if self.scope else ""
        return f"{self.node_id}{where} ({self.status})"


class NodeAttempt(models.Model):
    """One try at a node. An attempt that reached a terminal status never changes."""

    node_run = models.ForeignKey(NodeRun, on_delete=models.CASCADE, related_name="attempts")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=ATTEMPT_STATUS_CHOICES, default=AttemptStatus.QUEUED)
    input = models.JSONField(null=True, blank=True)
    #: The node's config with templates rendered: exactly what the worker executed.
    rendered = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    #: When the task message was last sent; the sweep re-sends queued attempts left unclaimed.
    last_sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: Only the worker holding an unexpired lease executes; the sweep re-offers expired ones.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    #: How many times a worker claimed this attempt; the claim number fences late results.
    claims = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, default="")
    timeout_s = models.FloatField(null=True, blank=True)
    usage = models.JSONField(null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    provider_kind = models.CharField(max_length=32, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    latency_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["node_run", "number"]
        constraints = [models.UniqueConstraint(fields=["node_run", "number"], name="one_attempt_per_number")]
        indexes = [
            models.Index(fields=["status", "lease_expires_at"]),
            models.Index(fields=["status", "last_sent_at"]),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.node_run_id} ({self.status})"


class RunEvent(models.Model):
    """Append-only history of a run; `seq` is gap-free per run and orders everything."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=40)
    node_id = models.CharField(max_length=64, null=True, blank=True)
    scope = models.CharField(max_length=512, default="", blank=True)
    attempt = models.PositiveIntegerField(null=True, blank=True)
    ts = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="one_event_per_seq")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.type}"

    def envelope(self) -> dict:  # type: ignore[type-arg]
        return {
            "seq": self.seq,
            "type": self.type,
            "node_id": self.node_id,
            "scope": self.scope,
            "attempt": self.attempt,
            "ts": self.ts.isoformat(),
            "data": self.data,
        }


class TimerKind(models.TextChoices):
    DELAY = "delay", "Delay node"
    RETRY = "retry", "Retry back-off"
    RUN_TIMEOUT = "run_timeout", "Run deadline"
    APPROVAL_DUE = "approval_due", "Approval due"
    AGENT_DEADLINE = "agent_deadline", "Agent task deadline"
    SUBWORKFLOW = "subworkflow", "Sub-workflow refusal or deadline"


class Timer(models.Model):
    """A durable timer: survives every restart; the sweep fires it by the database clock."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="timers")
    node_run = models.ForeignKey(
        NodeRun, null=True, blank=True, on_delete=models.CASCADE, related_name="timers"
    )
    kind = models.CharField(max_length=20, choices=TimerKind.choices)
    due_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at"]

    def __str__(self) -> str:
        return f"{self.kind} timer due {self.due_at:%Y-%m-%d %H:%M:%S}"


class OutboxMessage(models.Model):
    """An outside effect (an e-mail, a notification) recorded in the transaction that caused it,
    delivered after commit and retried by the sweep until it goes through."""

    kind = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        state = "sent" if self.sent_at else f"pending ({self.attempts} tries)"
        return f"{self.kind} {state}"


class Approval(models.Model):
    """A human decision a run waits for (DESIGN §5). Assignees may read it without a workflow role."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="approvals")
    node_run = models.ForeignKey(NodeRun, on_delete=models.CASCADE, related_name="approvals")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="approvals")
    #: The node run's attempt this approval belongs to (a retried node asks again).
    attempt = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=APPROVAL_STATUS_CHOICES, default=ApprovalStatus.PENDING)
    title = models.CharField(max_length=500)
    instructions = models.TextField(blank=True, default="")
    #: Exactly what the approver is shown and what flows on to the next node.
    payload = models.JSONField(default=dict, blank=True)
    #: SHA-256 of the canonical JSON of `payload`, shown with it, so what was approved is provable.
    payload_hash = models.CharField(max_length=64)
    form = models.JSONField(null=True, blank=True)
    assigned_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="approvals_assigned"
    )
    assigned_groups = models.ManyToManyField("auth.Group", blank=True, related_name="approvals_assigned")
    #: Added to the assignees when the approval escalates.
    escalate_users = models.JSONField(default=list, blank=True)
    escalate_groups = models.JSONField(default=list, blank=True)
    escalated = models.BooleanField(default=False)
    required_approvals = models.PositiveIntegerField(default=1)
    allow_self_approval = models.BooleanField(default=False)
    #: "Self" for the self rule: who started the run (for trigger runs, the trigger's owner).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_in_s = models.PositiveIntegerField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    on_timeout = models.CharField(max_length=10, default="reject")
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=10, blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True, default="")
    data = models.JSONField(null=True, blank=True)
    timed_out = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"


class ApprovalDecision(models.Model):
    """One user's vote; each eligible user decides once."""

    approval = models.ForeignKey(Approval, on_delete=models.CASCADE, related_name="decisions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="approval_decisions"
    )
    decision = models.CharField(max_length=10)
    comment = models.TextField(blank=True, default="")
    data = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.UniqueConstraint(fields=["approval", "user"], name="one_decision_per_user")]

    def __str__(self) -> str:
        return f"{self.user} {self.decision}d"


class ApprovalLink(models.Model):
    """An e-mailed link: bound to one approval and one recipient, single use, expiring.

    Only a hash of the token is stored, so a database reader cannot decide on anyone's behalf.
    """

    approval = models.ForeignKey(Approval, on_delete=models.CASCADE, related_name="links")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"link for {self.recipient} to {self.approval_id}"
