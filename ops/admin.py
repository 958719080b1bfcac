from django.contrib import admin

from .models import SweepRecord


@admin.register(SweepRecord)
class SweepRecordAdmin(admin.ModelAdmin):
    """What sweeps found; written by the sweep only, so read-only here."""

    list_display = ["at", "found", "duration_ms"]
    date_hierarchy = "at"

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
