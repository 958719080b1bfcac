from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from . import services
from .models import Tag, Workflow, WorkflowGrant, WorkflowVersion


class WorkflowGrantInline(admin.TabularInline):
    model = WorkflowGrant
    extra = 0
    autocomplete_fields = ["group"]


class WorkflowVersionInline(admin.TabularInline):
    model = WorkflowVersion
    extra = 0
    fields = ["number", "note", "author", "checksum", "created_at"]
    readonly_fields = ["number", "note", "author", "checksum", "created_at"]
    can_delete = False
    show_change_link = True
    ordering = ["-number"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "owner",
        "active_version_number",
        "version_count",
        "revision",
        "is_archived",
        "updated_at",
    ]
    list_filter = ["is_archived", "tags", "owner", "updated_at"]
    search_fields = ["name", "description", "owner__username"]
    list_select_related = ["owner", "active_version"]
    autocomplete_fields = ["owner"]
    filter_horizontal = ["tags"]
    readonly_fields = ["revision", "created_at", "updated_at", "archived_at", "active_version"]
    inlines = [WorkflowGrantInline, WorkflowVersionInline]
    actions = ["archive_selected", "restore_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workflow]:
        return super().get_queryset(request).annotate(_version_count=Count("versions", distinct=True))

    @admin.display(description="active version", ordering="active_version__number")
    def active_version_number(self, workflow: Workflow) -> str:
        return f"v{workflow.active_version.number}" if workflow.active_version else "—"

    @admin.display(description="versions", ordering="_version_count")
    def version_count(self, workflow: Workflow) -> int:
        return workflow._version_count  # type: ignore[attr-defined,no-any-return]

    @admin.action(description="Archive selected workflows")
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[Workflow]) -> None:
        for workflow in queryset:
            services.archive_workflow(workflow)

    @admin.action(description="Restore selected workflows")
    def restore_selected(self, request: HttpRequest, queryset: QuerySet[Workflow]) -> None:
        for workflow in queryset:
            services.restore_workflow(workflow)


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    list_display = ["workflow", "number", "author", "note", "created_at"]
    list_filter = ["created_at", "author"]
    search_fields = ["workflow__name", "note", "checksum"]
    list_select_related = ["workflow", "author"]
    readonly_fields = ["workflow", "number", "graph", "note", "author", "checksum", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WorkflowGrant)
class WorkflowGrantAdmin(admin.ModelAdmin):
    list_display = ["workflow", "group", "role"]
    list_filter = ["role", "group"]
    search_fields = ["workflow__name", "group__name"]
    list_select_related = ["workflow", "group"]
    autocomplete_fields = ["workflow", "group"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
