from django.contrib import admin

from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "hint", "created_at", "expires_at", "last_used_at"]
    list_filter = ["created_at", "expires_at"]
    search_fields = ["name", "user__username", "hint"]
    readonly_fields = ["user", "hint", "created_at", "last_used_at"]
    fields = ["user", "name", "hint", "expires_at", "created_at", "last_used_at"]
    list_select_related = ["user"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        # A token's value exists only at issue time; tokens are issued through the API.
        return False
