"""Workflow definitions: a mutable draft per workflow and immutable published versions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone

from .choices import Role


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Workflow(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="workflows")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=10_000)
    tags = models.ManyToManyField(Tag, blank=True, related_name="workflows")
    #: The draft graph the editor saves; runs use published versions unless started as drafts.
    graph = models.JSONField()
    #: Bumped on every save; a save quoting an older revision is refused (optimistic locking).
    revision = models.PositiveIntegerField(default=1)
    is_archived = models.BooleanField(default=False, db_index=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    active_version = models.ForeignKey(
        "WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Runs beyond this many at once wait as `pending`; NULL means no limit.
    max_concurrent_runs = models.PositiveIntegerField(null=True, blank=True)
    #: A run still unfinished after this many seconds fails; NULL means no run-level deadline.
    timeout_s = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["owner", "is_archived"])]

    def __str__(self) -> str:
        return self.name

    def archive(self) -> None:
        if not self.is_archived:
            self.is_archived = True
            self.archived_at = timezone.now()
            self.save(update_fields=["is_archived", "archived_at", "updated_at"])

    def restore(self) -> None:
        if self.is_archived:
            self.is_archived = False
            self.archived_at = None
            self.save(update_fields=["is_archived", "archived_at", "updated_at"])


class WorkflowGrant(models.Model):
    """Shares a workflow with every member of a group, at one role."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="grants")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="workflow_grants")
    role = models.CharField(max_length=10, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workflow", "group"], name="one_grant_per_group")]
        ordering = ["group__name"]

    def __str__(self) -> str:
        return f"{self.group} is {self.role} of {self.workflow}"


class ImmutableVersionError(Exception):
    """Published versions never change: runs pinned to them must replay the same graph."""


class WorkflowVersion(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    graph = models.JSONField()
    note = models.TextField(blank=True, max_length=2_000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: SHA-256 of the canonical JSON of `graph`; publishing an unchanged draft returns this version.
    checksum = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="one_version_number_per_workflow")
        ]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableVersionError(f"{self} is published and cannot change.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableVersionError(f"{self} is published and cannot be deleted.")
