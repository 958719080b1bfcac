"""Everything that changes a workflow definition. Views parse and serialize; this module decides.

`check_*` functions validate without side effects; the others mutate inside one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .choices import Role
from .models import Tag, Workflow, WorkflowGrant, WorkflowVersion
from .validation import check_shape, validate_graph

EXPORT_FORMAT = "flowdeck.workflow"
EXPORT_FORMAT_VERSION = 1
EXPORT_KEYS = {"format", "version", "name", "description", "tags", "graph"}


class GraphShapeError(Exception):
    """The graph is not even a well-formed draft: it is refused and nothing is saved."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("The graph is malformed.")
        self.errors = errors


class InvalidGraph(Exception):
    """The graph is a valid draft but cannot be published or run."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("The graph has validation errors.")
        self.errors = errors


class StaleRevision(Exception):
    """Someone saved the draft since the caller loaded it; their change must not be overwritten."""

    def __init__(self, current_revision: int) -> None:
        super().__init__("The draft was changed by someone else.")
        self.current_revision = current_revision


@dataclass(frozen=True)
class GrantSpec:
    group: Group
    role: str


class DatabaseDirectory:
    """Answers the validator's questions about names that live in the database."""

    def missing_users(self, names: set[str]) -> set[str]:
        found = get_user_model().objects.filter(username__in=names, is_active=True)
        return names - set(found.values_list("username", flat=True))

    def missing_groups(self, names: set[str]) -> set[str]:
        return names - set(Group.objects.filter(name__in=names).values_list("name", flat=True))

    def missing_agents(self, slugs: set[str]) -> set[str]:
        from agents.models import Agent

        return slugs - set(Agent.objects.filter(slug__in=slugs).values_list("slug", flat=True))


def default_graph() -> dict[str, Any]:
    """What a new workflow starts with: a start node wired to an end node."""
    return {
        "schema_version": 1,
        "nodes": [
            {
                "id": "start",
                "type": "start",
                "name": "Start",
                "position": {"x": 0, "y": 0},
                "config": {"input_schema": {"type": "object", "properties": {}}},
            },
            {
                "id": "end",
                "type": "end",
                "name": "End",
                "position": {"x": 320, "y": 0},
                "config": {"outputs": {}},
            },
        ],
        "edges": [{"id": "e_start_end", "source": "start", "target": "end"}],
    }


def graph_checksum(graph: Any) -> str:
    canonical = json.dumps(graph, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_draft_graph(graph: Any) -> None:
    errors = check_shape(graph)
    if errors:
        raise GraphShapeError(errors)


def check_graph(graph: Any) -> list[dict[str, Any]]:
    """The full validation tier, with users, groups and agents looked up in the database."""
    return validate_graph(graph, directory=DatabaseDirectory())


def normalise_tags(tags: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = " ".join(tag.split()).lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def _set_tags(workflow: Workflow, tags: Sequence[str]) -> None:
    names = normalise_tags(tags)
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=name) for name in names if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    workflow.tags.set([existing[name] for name in names])


def _set_grants(workflow: Workflow, grants: Sequence[GrantSpec]) -> None:
    workflow.grants.all().delete()
    WorkflowGrant.objects.bulk_create(
        [WorkflowGrant(workflow=workflow, group=grant.group, role=grant.role) for grant in grants]
    )


@transaction.atomic
def create_workflow(
    *,
    owner: Any,
    name: str,
    description: str = "",
    tags: Sequence[str] = (),
    graph: Any = None,
    max_concurrent_runs: int | None = None,
    timeout_s: int | None = None,
    grants: Sequence[GrantSpec] = (),
) -> Workflow:
    graph = default_graph() if graph is None else graph
    check_draft_graph(graph)
    workflow = Workflow.objects.create(
        owner=owner,
        name=name,
        description=description,
        graph=graph,
        max_concurrent_runs=max_concurrent_runs,
        timeout_s=timeout_s,
    )
    _set_tags(workflow, tags)
    _set_grants(workflow, grants)
    return workflow


DRAFT_FIELDS = {"name", "description", "graph", "max_concurrent_runs", "timeout_s"}


@transaction.atomic
def save_draft(
    workflow: Workflow,
    *,
    changes: dict[str, Any],
    revision: int | None,
    tags: Sequence[str] | None = None,
    grants: Sequence[GrantSpec] | None = None,
) -> Workflow:
    """Save draft fields with optimistic locking on `revision`.

    The compare-and-set is one UPDATE guarded by the revision the caller loaded, so two editors
    saving at once cannot both win, in SQLite as in Postgres. A graph save must quote a revision.
    """
    if "graph" in changes:
        check_draft_graph(changes["graph"])
    fields = {key: value for key, value in changes.items() if key in DRAFT_FIELDS}
    has_changes = bool(fields) or tags is not None or grants is not None
    rows = Workflow.objects.filter(pk=workflow.pk)
    if revision is not None:
        rows = rows.filter(revision=revision)
    if has_changes:
        updated = rows.update(**fields, revision=F("revision") + 1, updated_at=timezone.now())
    else:
        updated = rows.count()
    if not updated:
        current = Workflow.objects.filter(pk=workflow.pk).values_list("revision", flat=True).first()
        raise StaleRevision(current or 0)
    if tags is not None:
        _set_tags(workflow, tags)
    if grants is not None:
        _set_grants(workflow, grants)
    workflow.refresh_from_db()
    return workflow


def archive_workflow(workflow: Workflow) -> None:
    """Archiving hides a workflow; its versions and runs stay, and it can be restored."""
    workflow.archive()


def restore_workflow(workflow: Workflow) -> None:
    workflow.restore()


@transaction.atomic
def publish_workflow(
    workflow: Workflow, *, author: Any, note: str = "", activate: bool = True, revision: int | None = None
) -> tuple[WorkflowVersion, bool]:
    """Publish the draft as the next immutable version; returns (version, created).

    The workflow row is locked first so two publishes cannot take the same number (on SQLite the
    IMMEDIATE transaction serialises them; the unique constraint is the last line of defence).
    An unchanged draft returns the latest version instead of a duplicate.
    """
    locked = Workflow.objects.select_for_update().get(pk=workflow.pk)
    if revision is not None and revision != locked.revision:
        raise StaleRevision(locked.revision)
    errors = check_graph(locked.graph)
    if errors:
        raise InvalidGraph(errors)
    checksum = graph_checksum(locked.graph)
    latest = locked.versions.order_by("-number").first()
    if latest is not None and latest.checksum == checksum:
        version, created = latest, False
    else:
        version = WorkflowVersion.objects.create(
            workflow=locked,
            number=(latest.number + 1) if latest else 1,
            graph=locked.graph,
            note=note,
            author=author if getattr(author, "is_authenticated", False) else None,
            checksum=checksum,
        )
        created = True
    if activate and locked.active_version_id != version.pk:
        Workflow.objects.filter(pk=locked.pk).update(active_version=version, updated_at=timezone.now())
    workflow.refresh_from_db()
    return version, created


@transaction.atomic
def activate_version(workflow: Workflow, version: WorkflowVersion) -> None:
    """Make `version` the one triggers and default runs use; activating an older one rolls back."""
    Workflow.objects.filter(pk=workflow.pk).update(active_version=version, updated_at=timezone.now())
    workflow.refresh_from_db()


def export_document(workflow: Workflow, version: WorkflowVersion | None = None) -> dict[str, Any]:
    """The portable form of a workflow: agents are referenced by slug, never by id or secret."""
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_FORMAT_VERSION,
        "name": workflow.name,
        "description": workflow.description,
        "tags": [tag.name for tag in workflow.tags.all()],
        "graph": version.graph if version is not None else workflow.graph,
    }


def import_document(owner: Any, document: dict[str, Any], *, name: str | None = None) -> Workflow:
    """Create a new workflow from an export document (never overwrites an existing one)."""
    return create_workflow(
        owner=owner,
        name=name or document["name"],
        description=document.get("description", ""),
        tags=document.get("tags", []),
        graph=document["graph"],
    )


def grants_from_names(entries: Sequence[dict[str, str]]) -> list[GrantSpec]:
    """Resolve `[{"group": name, "role": role}]`; raises ValueError naming unknown groups."""
    names = {entry["group"] for entry in entries}
    groups = {group.name: group for group in Group.objects.filter(name__in=names)}
    unknown = sorted(names - set(groups))
    if unknown:
        raise ValueError(f"Unknown group(s): {', '.join(unknown)}.")
    roles = {entry["group"]: entry["role"] for entry in entries}
    return [GrantSpec(group=groups[name], role=Role(role)) for name, role in roles.items()]
