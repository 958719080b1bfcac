from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from . import external
from .models import Agent, AgentGrant, AgentTask, ExternalAgent, Provider, ProviderGrant


class ProviderForm(forms.ModelForm):
    base_url = forms.URLField(required=False, assume_scheme="https", max_length=500)
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: leave empty to keep the stored key. It is encrypted and never shown again.",
    )

    class Meta:
        model = Provider
        fields = [
            "name",
            "kind",
            "base_url",
            "config",
            "max_concurrency",
            "requests_per_minute",
            "timeout_s",
            "owner",
        ]


class ProviderGrantInline(admin.TabularInline):
    model = ProviderGrant
    extra = 0
    autocomplete_fields = ["group"]


class AgentGrantInline(admin.TabularInline):
    model = AgentGrant
    extra = 0
    autocomplete_fields = ["group"]


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    """The API key is write-only here too: the form accepts a new one, never shows the stored one."""

    form = ProviderForm
    list_display = ["name", "kind", "base_url", "has_api_key", "max_concurrency", "requests_per_minute"]
    list_filter = ["kind"]
    search_fields = ["name", "base_url"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    inlines = [ProviderGrantInline]

    def save_model(self, request: HttpRequest, obj: Provider, form: Any, change: bool) -> None:
        if form.cleaned_data.get("api_key"):
            obj.set_api_key(form.cleaned_data["api_key"])
        super().save_model(request, obj, form, change)

    @admin.display(boolean=True, description="API key set")
    def has_api_key(self, provider: Provider) -> bool:
        return provider.has_api_key


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "provider", "model", "output_format", "owner", "updated_at"]
    list_filter = ["output_format", "provider"]
    search_fields = ["name", "slug", "description", "model"]
    list_select_related = ["provider", "owner"]
    autocomplete_fields = ["owner", "provider"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [AgentGrantInline]


# --- External agents and their tasks --------------------------------------------------------------
# (External agent protocol: agents.external. Tokens are issued by the API only — an agent is
# registered with `POST /api/external-agents/register/` — so the admin cannot add agents; it lists
# them with their liveness and revokes them. Registering needs staff or the permission
# "agents | external agent | Can add external agent", granted on a user or group page.)


class LivenessFilter(admin.SimpleListFilter):
    title = "liveness"
    parameter_name = "liveness"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("alive", "Alive"), ("silent", "Silent"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ExternalAgent]) -> QuerySet[ExternalAgent]:
        alive_since = timezone.now() - timedelta(seconds=settings.EXTERNAL_AGENT_ALIVE_S)
        if self.value() == "alive":
            return queryset.filter(revoked_at__isnull=True, last_heartbeat_at__gte=alive_since)
        if self.value() == "silent":
            return queryset.filter(revoked_at__isnull=True).exclude(last_heartbeat_at__gte=alive_since)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ExternalAgent)
class ExternalAgentAdmin(admin.ModelAdmin):
    list_display = ["name", "is_alive", "capability_list", "version", "registered_by", "last_heartbeat_at"]
    list_filter = [LivenessFilter, "registered_by"]
    search_fields = ["name", "version", "id"]
    list_select_related = ["registered_by"]
    readonly_fields = ["id", "registered_by", "last_heartbeat_at", "revoked_at", "created_at"]
    fields = ["id", "name", "capabilities", "version", "registered_by", "last_heartbeat_at", "revoked_at"]
    actions = ["revoke_agents"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(boolean=True, description="alive")
    def is_alive(self, agent: ExternalAgent) -> bool:
        return agent.is_alive

    @admin.display(description="capabilities")
    def capability_list(self, agent: ExternalAgent) -> str:
        return ", ".join(str(capability) for capability in agent.capabilities or [])

    @admin.action(description="Revoke the selected agents (their leases are taken back)")
    def revoke_agents(self, request: HttpRequest, queryset: QuerySet[ExternalAgent]) -> None:
        revoked = 0
        for agent in queryset.filter(revoked_at__isnull=True):
            try:
                external.revoke(external.get_external_agent_for(request.user, agent.pk))
            except (external.AgentRefused, Http404):
                continue
            revoked += 1
        self.message_user(request, f"Revoked {revoked} agent(s).")


@admin.register(AgentTask)
class AgentTaskAdmin(admin.ModelAdmin):
    """Read-only: a task changes only through the protocol and the run's locked transactions."""

    list_display = [
        "id",
        "capability",
        "status",
        "run",
        "node_id",
        "lease_no",
        "leased_by",
        "lease_expires_at",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "capability"]
    search_fields = ["id", "capability", "run__id"]
    list_select_related = ["run", "node_run", "leased_by"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="node", ordering="node_run__node_id")
    def node_id(self, task: AgentTask) -> str:
        scope = f" in {task.node_run.scope}" if task.node_run.scope else ""
        return f"{task.node_run.node_id}{scope}"


@admin.register(ProviderGrant)
class ProviderGrantAdmin(admin.ModelAdmin):
    list_display = ["provider", "group", "role"]
    list_filter = ["role", "group"]
    list_select_related = ["provider", "group"]


@admin.register(AgentGrant)
class AgentGrantAdmin(admin.ModelAdmin):
    list_display = ["agent", "group", "role"]
    list_filter = ["role", "group"]
    list_select_related = ["agent", "group"]
