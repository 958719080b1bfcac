"""The one way to fetch a run for a user: access follows the run's workflow (DESIGN §7: `viewer`
reads runs, `runner` starts and controls them)."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from workflows.access import has_role, visible_workflows
from workflows.choices import Role

from .models import Run


def visible_runs(user: Any, queryset: QuerySet[Run] | None = None) -> QuerySet[Run]:
    queryset = Run.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    return queryset.filter(workflow__in=visible_workflows(user).values("pk"))


def get_run_for(
    user: Any, run_id: Any, minimum_role: str = Role.VIEWER, queryset: QuerySet[Run] | None = None
) -> Run:
    """The run if ``user`` holds at least ``minimum_role`` on its workflow.

    Http404 when the user may not see it at all, PermissionDenied when the role is too low.
    """
    try:
        run_uuid = uuid.UUID(str(run_id))
    except ValueError:
        raise Http404("No such run.") from None
    queryset = Run.objects.all() if queryset is None else queryset
    run = visible_runs(user, queryset.select_related("workflow")).filter(pk=run_uuid).first()
    if run is None:
        raise Http404("No such run.")
    if not has_role(user, run.workflow, minimum_role):
        raise PermissionDenied(f"This needs the {minimum_role} role on the workflow.")
    return run
