"""The vocabularies of triggers, each in one place."""

from django.db import models


class TriggerKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    SCHEDULE = "schedule", "Schedule"
    WORKFLOW_EVENT = "workflow_event", "Workflow event"


class CatchUp(models.TextChoices):
    """What a schedule does with the slots it missed while nothing was ticking."""

    SKIP = "skip", "Skip every missed slot"
    ONCE = "once", "Run once for the latest missed slot"
    ALL = "all", "Run every missed slot (bounded)"


class Overlap(models.TextChoices):
    """What a schedule does when its previous run is still active at the next slot."""

    ALLOW = "allow", "Start another run"
    SKIP = "skip", "Skip this slot"
    CANCEL_PREVIOUS = "cancel_previous", "Cancel the previous run, then start"


class EventStatus(models.TextChoices):
    """Run outcomes a workflow-event trigger can follow."""

    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class FireOutcome(models.TextChoices):
    STARTED = "started", "Run started"
    SKIPPED = "skipped", "Skipped"
    REFUSED = "refused", "Refused"
