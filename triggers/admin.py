from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Trigger, TriggerFire


class TriggerFireInline(admin.TabularInline):
    model = TriggerFire
    extra = 0
    fields = ["created_at", "outcome", "run", "slot", "reason"]
    readonly_fields = ["created_at", "outcome", "run", "slot", "reason"]
    can_delete = False
    show_change_link = False
    ordering = ["-created_at"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[TriggerFire]:
        return super().get_queryset(request).select_related("run")


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    """Secrets are neither shown nor editable here: rotate them through the API."""

    list_display = ["__str__", "workflow", "kind", "enabled", "owner", "next_fire_at", "last_fired_at"]
    list_filter = ["kind", "enabled", "created_at"]
    search_fields = ["name", "workflow__name", "owner__username"]
    list_select_related = ["workflow", "owner"]
    autocomplete_fields = ["owner"]
    raw_id_fields = ["workflow", "source_workflow"]
    fields = [
        "workflow",
        "kind",
        "name",
        "owner",
        "enabled",
        "config",
        "token",
        "source_workflow",
        "previous_secret_expires_at",
        "schedule_cursor",
        "next_fire_at",
        "last_fired_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [
        "kind",
        "config",
        "token",
        "source_workflow",
        "previous_secret_expires_at",
        "schedule_cursor",
        "next_fire_at",
        "last_fired_at",
        "created_at",
        "updated_at",
    ]
    inlines = [TriggerFireInline]
    actions = ["enable_selected", "disable_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Creating needs the per-kind checks and the one-time secret of the API.
        return False

    @admin.action(description="Enable selected triggers")
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[Trigger]) -> None:
        from . import services

        for trigger in queryset.select_related("owner"):
            if not trigger.enabled:
                services.update_trigger(trigger, by=trigger.owner, enabled=True)

    @admin.action(description="Disable selected triggers")
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[Trigger]) -> None:
        queryset.update(enabled=False)


@admin.register(TriggerFire)
class TriggerFireAdmin(admin.ModelAdmin):
    list_display = ["trigger", "outcome", "run", "slot", "created_at"]
    list_filter = ["outcome", "trigger__kind", "created_at"]
    search_fields = ["trigger__name", "trigger__workflow__name", "reason"]
    list_select_related = ["trigger", "trigger__workflow", "run"]
    readonly_fields = ["trigger", "key", "outcome", "run", "reason", "slot", "expires_at", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
