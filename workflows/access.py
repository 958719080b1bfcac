"""The one way to fetch a workflow for a user: every route, consumer and admin action uses it.

A user who cannot see a workflow gets "not found" (its existence is not disclosed); a user who can
see it but lacks the role for the action gets "permission denied". The rules are shared with
providers and agents (accounts.sharing).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.sharing import get_shared_for, has_role, role_of, visible_to

from .choices import Role
from .models import Workflow

__all__ = ["get_workflow_for", "has_role", "role_for", "visible_workflows"]


def visible_workflows(user: Any, queryset: QuerySet[Workflow] | None = None) -> QuerySet[Workflow]:
    return visible_to(user, Workflow.objects.all() if queryset is None else queryset)


def role_for(user: Any, workflow: Workflow) -> str | None:
    return role_of(user, workflow)


def get_workflow_for(
    user: Any, workflow_id: Any, minimum_role: str = Role.VIEWER, queryset: QuerySet[Workflow] | None = None
) -> Workflow:
    """The workflow if ``user`` holds at least ``minimum_role`` on it.

    Raises Http404 when the user may not see it at all and PermissionDenied when the role is too low.
    """
    return get_shared_for(
        user, Workflow.objects.all() if queryset is None else queryset, workflow_id, minimum_role, "workflow"
    )
