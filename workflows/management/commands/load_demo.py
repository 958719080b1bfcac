"""`manage.py load_demo`: an admin account and example workflows for a first look.

Safe to run again: existing users and workflows are left exactly as they are.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from agents.models import Agent, Provider
from workflows import services
from workflows.models import Workflow

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "demo"
ADMIN_USERNAME = "admin"
REVIEWERS_GROUP = "reviewers"

#: Scripted replies, so the demo's prompt nodes work offline with no API key. Pointing the
#: provider at a real endpoint (kind, base_url, api_key) and the agents at a real model is all it
#: takes to use a real LLM instead.
DEMO_PROVIDER: dict[str, Any] = {
    "name": "Demo (scripted)",
    "kind": "scripted",
    "config": {
        "rules": [
            {
                "match": "(?is)^Classify.*(down|outage|crash|urgent|cannot log in)",
                "reply": {"priority": "high", "category": "outage"},
            },
            {"match": "(?i)^Classify", "reply": {"priority": "normal", "category": "question"}},
            {
                "match": "(?i)^Draft a reply",
                "reply": "Hi! Thanks for getting in touch. We have looked into your request and a member of "
                "our team will follow up within one business day. Best regards, the support team",
            },
        ],
        "default": "I can only classify tickets and draft replies in this demo.",
        "chunk_chars": 6,
        "chunk_delay_s": 0.03,
    },
}
DEMO_AGENTS: list[dict[str, Any]] = [
    {
        "slug": "triage-bot",
        "name": "Triage bot",
        "description": "Classifies support tickets by priority and category.",
        "model": "scripted-demo",
        "system_prompt": (
            "You triage support tickets. Reply in JSON with a priority (high or normal) and a category."
        ),
        "output_format": "json",
        "json_schema": {
            "type": "object",
            "properties": {"priority": {"enum": ["high", "normal"]}, "category": {"type": "string"}},
            "required": ["priority", "category"],
        },
    },
    {
        "slug": "reply-writer",
        "name": "Reply writer",
        "description": "Drafts a friendly first reply to a ticket.",
        "model": "scripted-demo",
        "system_prompt": "You write short, friendly first replies to support tickets.",
    },
]


class Command(BaseCommand):
    help = "Create the admin user (password printed once) and the example workflows, if missing."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            admin, password = self._admin()
            reviewers, _ = Group.objects.get_or_create(name=REVIEWERS_GROUP)
            admin.groups.add(reviewers)
            self._agents(admin)
            created = [name for name in self._workflows(admin) if name]
        if password:
            self.stdout.write(self.style.SUCCESS("Created the admin user. Sign in with:"))
            self.stdout.write(f"    username: {ADMIN_USERNAME}")
            self.stdout.write(f"    password: {password}")
            self.stdout.write("This password is shown only once; change it in the admin (/admin/).")
        else:
            self.stdout.write(f"The user '{ADMIN_USERNAME}' already exists; its password is unchanged.")
        for name in created:
            self.stdout.write(f"Added the example workflow '{name}'.")

    def _admin(self) -> tuple[Any, str | None]:
        user_model = get_user_model()
        existing = user_model.objects.filter(username=ADMIN_USERNAME).first()
        if existing is not None:
            return existing, None
        password = secrets.token_urlsafe(12)
        return user_model.objects.create_superuser(ADMIN_USERNAME, "admin@localhost", password), password

    def _agents(self, owner: Any) -> None:
        """The scripted provider and its agents, unless a provider of that name exists already."""
        if Provider.objects.filter(name=DEMO_PROVIDER["name"]).exists():
            return
        provider = Provider.objects.create(owner=owner, max_concurrency=0, **DEMO_PROVIDER)
        for spec in DEMO_AGENTS:
            if not Agent.objects.filter(slug=spec["slug"]).exists():
                Agent.objects.create(owner=owner, provider=provider, **spec)
        self.stdout.write(f"Added the scripted provider '{provider.name}' and its demo agents.")

    def _workflows(self, owner: Any) -> list[str | None]:
        return [self._workflow(owner, path) for path in sorted(DEMO_DIR.glob("*.json"))]

    def _workflow(self, owner: Any, path: Path) -> str | None:
        document = json.loads(path.read_text())
        if Workflow.objects.filter(name=document["name"]).exists():
            return None
        workflow = services.import_document(owner, document)
        services.publish_workflow(workflow, author=owner, note="Example workflow")
        return str(workflow.name)
