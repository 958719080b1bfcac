"""Triggers start runs of a workflow on their own: a signed webhook, a cron schedule, or another
workflow's run finishing. Every firing is a `TriggerFire` row, unique per (trigger, key), which is
what makes a webhook repeat, a second beat process or a redelivered event start no second run.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.db import models

from agents import crypto
from workflows.models import Workflow

from .choices import FireOutcome, TriggerKind

TOKEN_BYTES = 24
SECRET_BYTES = 32
SECRET_PREFIX = "whsec_"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


class Trigger(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="triggers")
    #: Runs started by the trigger run as this user, who needed `editor` on the workflow to create it.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="triggers")
    kind = models.CharField(max_length=20, choices=TriggerKind.choices)
    name = models.CharField(max_length=200, blank=True, default="")
    #: Validated per kind by triggers.config; never holds a secret.
    config = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)

    #: Webhooks: the unguessable path segment of `/hooks/<token>/` (NULL for other kinds).
    token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    #: Webhooks: the signing secret, encrypted at rest (agents.crypto); shown once, never listed.
    secret_encrypted = models.TextField(blank=True, default="")
    #: The secret replaced by the last rotation, valid until `previous_secret_expires_at`.
    previous_secret_encrypted = models.TextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)

    #: Workflow events: the watched workflow, copied from config so finished runs find it by index.
    source_workflow = models.ForeignKey(
        Workflow, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    #: Schedules: every slot up to here has been considered (fired, skipped or missed).
    schedule_cursor = models.DateTimeField(null=True, blank=True)
    #: Schedules: the first slot after the cursor; the tick only looks at triggers due by now.
    next_fire_at = models.DateTimeField(null=True, blank=True, db_index=True)

    last_fired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workflow", "created_at", "id"]
        indexes = [
            models.Index(fields=["kind", "enabled", "next_fire_at"]),
            models.Index(fields=["source_workflow", "kind", "enabled"]),
        ]

    def __str__(self) -> str:
        label = self.name or self.kind
        return f"{label} → {self.workflow_id}"

    # --- webhook secrets -------------------------------------------------------------------

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = crypto.encrypt(secret)

    def current_secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    def rotate_secret(self, grace_until: datetime) -> str:
        """Keep the current secret valid until ``grace_until`` and make a new one current.

        Returns the new secret: the only time it exists in plain text outside a signature check.
        """
        secret = new_secret()
        self.previous_secret_encrypted = self.secret_encrypted
        self.previous_secret_expires_at = grace_until
        self.set_secret(secret)
        return secret

    def valid_secrets(self, now: datetime) -> list[str]:
        found = [self.current_secret()]
        if (
            self.previous_secret_encrypted
            and self.previous_secret_expires_at is not None
            and self.previous_secret_expires_at > now
        ):
            found.append(crypto.decrypt(self.previous_secret_encrypted))
        return [secret for secret in found if secret]

    @property
    def hook_path(self) -> str | None:
        return f"/hooks/{self.token}/" if self.token else None


class TriggerFire(models.Model):
    """One firing of a trigger, unique per (trigger, key):

    - webhook: the SHA-256 of the idempotency key, kept until `expires_at` (24 h);
    - schedule: the slot's UTC instant;
    - workflow event: the source run and the event's seq.
    """

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="fires")
    key = models.CharField(max_length=128)
    outcome = models.CharField(max_length=10, choices=FireOutcome.choices, default=FireOutcome.STARTED)
    run = models.ForeignKey(
        "executions.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="trigger_fires"
    )
    #: Why the firing was skipped or refused (overlap, chain depth, invalid inputs …).
    reason = models.TextField(blank=True, default="")
    slot = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["trigger", "key"], name="one_fire_per_trigger_key")]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.trigger_id}:{self.key} ({self.outcome})"
