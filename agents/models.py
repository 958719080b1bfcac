"""Providers (LLM endpoints and their secrets), agents (reusable model configurations that
`prompt` nodes reference by slug), and external agents (programs that take `agent_task` work)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone

from workflows.choices import Role

from . import crypto


class ProviderKind(models.TextChoices):
    OPENAI = "openai", "OpenAI-compatible"
    ANTHROPIC = "anthropic", "Anthropic"
    SCRIPTED = "scripted", "Scripted (no network)"


class Provider(models.Model):
    #: Unique: a `prompt` node without an agent names its provider.
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=ProviderKind.choices)
    #: For OpenAI-compatible endpoints: OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio, llama.cpp, …
    base_url = models.URLField(max_length=500, blank=True, default="")
    #: Encrypted; write-only in the API (see agents.crypto).
    api_key_ciphertext = models.TextField(blank=True, default="", editable=False)
    #: Kind-specific settings: scripted replies, extra headers, an Azure api_version, …
    config = models.JSONField(default=dict, blank=True)
    #: At most this many calls at once, across every worker process; 0 means no limit.
    max_concurrency = models.PositiveIntegerField(default=4)
    #: At most this many calls per minute, across every worker process; 0 means no limit.
    requests_per_minute = models.PositiveIntegerField(default=0)
    timeout_s = models.FloatField(default=120)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="providers")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_ciphertext)

    def set_api_key(self, raw: str) -> None:
        self.api_key_ciphertext = crypto.encrypt(raw)

    def api_key(self) -> str:
        return crypto.decrypt(self.api_key_ciphertext)


class ProviderGrant(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="grants")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="provider_grants")
    role = models.CharField(max_length=10, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "group"], name="one_provider_grant_per_group")
        ]

    def __str__(self) -> str:
        return f"{self.group} is {self.role} of {self.provider}"


class OutputFormat(models.TextChoices):
    TEXT = "text", "Text"
    JSON = "json", "JSON"


class Agent(models.Model):
    #: Globally unique; graphs and exports reference agents by slug, never by id.
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=10_000)
    provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="agents"
    )
    model = models.CharField(max_length=200, blank=True, default="")
    system_prompt = models.TextField(blank=True, default="", max_length=100_000)
    temperature = models.FloatField(null=True, blank=True)
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_format = models.CharField(max_length=10, choices=OutputFormat.choices, default=OutputFormat.TEXT)
    json_schema = models.JSONField(null=True, blank=True)
    #: USD per million tokens, for the cost recorded on each attempt.
    price_input_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    price_output_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="agents")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class AgentGrant(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="grants")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="agent_grants")
    role = models.CharField(max_length=10, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "group"], name="one_agent_grant_per_group")]

    def __str__(self) -> str:
        return f"{self.group} is {self.role} of {self.agent}"


AGENT_TOKEN_PREFIX = "fda_"


def hash_agent_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ExternalAgent(models.Model):
    """A program outside Flowdeck that takes `agent_task` work over the agent protocol (DESIGN §6)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    capabilities = models.JSONField(default=list, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    version = models.CharField(max_length=100, blank=True, default="")
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "created_at"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def register(
        cls, *, name: str, capabilities: list[str], registered_by: Any, version: str = ""
    ) -> tuple[ExternalAgent, str]:
        raw = AGENT_TOKEN_PREFIX + secrets.token_urlsafe(32)
        agent = cls.objects.create(
            name=name,
            capabilities=capabilities,
            token_hash=hash_agent_token(raw),
            registered_by=registered_by,
            version=version,
            last_heartbeat_at=timezone.now(),
        )
        return agent, raw

    @property
    def is_alive(self) -> bool:
        if self.revoked_at is not None or self.last_heartbeat_at is None:
            return False
        return (timezone.now() - self.last_heartbeat_at).total_seconds() <= settings.EXTERNAL_AGENT_ALIVE_S


class AgentTaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    LEASED = "leased", "Leased"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class AgentTask(models.Model):
    """The hand-off of one `agent_task` node attempt to whichever external agent claims it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey("executions.Run", on_delete=models.CASCADE, related_name="agent_tasks")
    node_run = models.ForeignKey("executions.NodeRun", on_delete=models.CASCADE, related_name="agent_tasks")
    capability = models.CharField(max_length=200, db_index=True)
    input = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=AgentTaskStatus.choices, default=AgentTaskStatus.OPEN)
    #: Bumped on every claim; results must quote the current one (fencing a stale agent).
    lease_no = models.PositiveIntegerField(default=0)
    leased_by = models.ForeignKey(
        ExternalAgent, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    lease_s = models.PositiveIntegerField(default=60)
    max_leases = models.PositiveIntegerField(default=3)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["status", "capability", "created_at"]),
            models.Index(fields=["status", "lease_expires_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.capability} task ({self.status})"
