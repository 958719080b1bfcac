"""The templates gallery: documented starting points, each a workflow export document plus the
scripted agents it runs on and, where it has one, a trigger.

Files live in `ops/gallery/*.json`. Using a template creates a new workflow owned by the user,
published so it can run at once, with its trigger created *disabled* (nothing fires until the user
says so). Agents are global by slug: a template's agents and their scripted provider are created on
first use and reused afterwards, so every template runs offline out of the box.

In a template's approval nodes the assignee ``$me`` stands for the user creating the workflow.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.db import transaction

from agents.models import Agent, Provider, ProviderKind
from workflows import services as workflow_services
from workflows.models import Workflow

GALLERY_DIR = Path(__file__).resolve().parent / "gallery"
SELF_ASSIGNEE = "$me"
TEMPLATE_KEYS = {
    "slug",
    "title",
    "category",
    "summary",
    "documentation",
    "sample_inputs",
    "provider",
    "agents",
    "trigger",
    "workflow",
}


class UnknownTemplate(Exception):
    pass


@dataclass(frozen=True)
class Template:
    slug: str
    title: str
    category: str
    summary: str
    documentation: str
    sample_inputs: dict[str, Any]
    provider: dict[str, Any]
    agents: list[dict[str, Any]]
    trigger: dict[str, Any] | None
    workflow: dict[str, Any]

    @property
    def provider_name(self) -> str:
        return f"Scripted: {self.title}"

    def describe(self) -> dict[str, Any]:
        graph = self.workflow["graph"]
        return {
            "slug": self.slug,
            "title": self.title,
            "category": self.category,
            "summary": self.summary,
            "documentation": self.documentation,
            "name": self.workflow["name"],
            "tags": self.workflow.get("tags", []),
            "node_types": sorted({node["type"] for node in graph["nodes"]}),
            "node_count": len(graph["nodes"]),
            "agents": [agent["slug"] for agent in self.agents],
            "trigger": (
                {"kind": self.trigger["kind"], "name": self.trigger.get("name", "")} if self.trigger else None
            ),
            "sample_inputs": self.sample_inputs,
        }


def _load(path: Path) -> Template:
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - TEMPLATE_KEYS
    if unknown:
        raise ValueError(f"{path.name}: unknown keys {sorted(unknown)}")
    return Template(
        slug=data["slug"],
        title=data["title"],
        category=data.get("category", ""),
        summary=data["summary"],
        documentation=data["documentation"],
        sample_inputs=data.get("sample_inputs", {}),
        provider=data.get("provider", {}),
        agents=data.get("agents", []),
        trigger=data.get("trigger"),
        workflow=data["workflow"],
    )


@cache
def templates() -> tuple[Template, ...]:
    return tuple(_load(path) for path in sorted(GALLERY_DIR.glob("*.json")))


def get_template(slug: str) -> Template:
    for template in templates():
        if template.slug == slug:
            return template
    raise UnknownTemplate(slug)


@dataclass(frozen=True)
class UsedTemplate:
    workflow: Workflow
    trigger: Any
    #: A webhook trigger's signing secret: shown once, here.
    secret: str | None
    published: bool


def _ensure_agents(template: Template, user: Any) -> None:
    """The template's scripted provider and agents, created on first use, reused after. An agent
    whose slug someone already took is left exactly as it is."""
    missing = [spec for spec in template.agents if not Agent.objects.filter(slug=spec["slug"]).exists()]
    if not missing:
        return
    provider = Provider.objects.filter(name=template.provider_name).first()
    if provider is None:
        provider = Provider.objects.create(
            name=template.provider_name,
            kind=ProviderKind.SCRIPTED,
            config=template.provider,
            owner=user,
            max_concurrency=0,
        )
    for spec in missing:
        Agent.objects.create(
            owner=user,
            provider=provider,
            model=spec.get("model", "scripted"),
            **{key: value for key, value in spec.items() if key != "model"},
        )


def _personalised(graph: dict[str, Any], username: str) -> dict[str, Any]:
    graph = copy.deepcopy(graph)
    for node in graph["nodes"]:
        if node.get("type") != "approval":
            continue
        for key in ("assignees", "escalate_to"):
            spec = (node.get("config") or {}).get(key)
            if isinstance(spec, dict) and isinstance(spec.get("users"), list):
                spec["users"] = [username if name == SELF_ASSIGNEE else name for name in spec["users"]]
    return graph


@transaction.atomic
def use_template(user: Any, slug: str, name: str | None = None) -> UsedTemplate:
    """Create the template's workflow for ``user``: published and active, its trigger disabled."""
    from triggers import services as trigger_services

    template = get_template(slug)
    _ensure_agents(template, user)
    document = {**template.workflow, "graph": _personalised(template.workflow["graph"], user.get_username())}
    workflow = workflow_services.import_document(user, document, name=name)
    published = True
    try:
        workflow_services.publish_workflow(
            workflow, author=user, note=f"From the template '{template.title}'"
        )
    except workflow_services.InvalidGraph:
        published = False  # kept as a draft the user can fix in the editor
    trigger = secret = None
    if template.trigger is not None:
        saved = trigger_services.create_trigger(
            workflow=workflow,
            owner=user,
            kind=template.trigger["kind"],
            config=template.trigger.get("config", {}),
            name=template.trigger.get("name", ""),
            enabled=False,
        )
        trigger, secret = saved.trigger, saved.secret
    workflow.refresh_from_db()
    return UsedTemplate(workflow=workflow, trigger=trigger, secret=secret, published=published)
