from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from .models import Credential, CredentialGrant, EgressAllow


class CredentialForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: leave empty to keep the stored secret. It is encrypted and never shown again.",
    )

    class Meta:
        model = Credential
        fields = ["name", "kind", "description", "username", "header_name", "query_param", "owner"]


class CredentialGrantInline(admin.TabularInline):
    model = CredentialGrant
    extra = 0
    autocomplete_fields = ["group"]


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    """The secret is write-only here too: the form accepts a new one, never shows the stored one."""

    form = CredentialForm
    list_display = ["name", "kind", "has_secret", "owner", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name", "description"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    inlines = [CredentialGrantInline]

    def save_model(self, request: HttpRequest, obj: Credential, form: Any, change: bool) -> None:
        if form.cleaned_data.get("secret"):
            obj.set_secret(form.cleaned_data["secret"])
        super().save_model(request, obj, form, change)

    @admin.display(boolean=True, description="Secret set")
    def has_secret(self, credential: Credential) -> bool:
        return credential.has_secret


@admin.register(EgressAllow)
class EgressAllowAdmin(admin.ModelAdmin):
    """Hosts the egress guard lets `http` nodes reach although they are private (see
    integrations.egress). Every row is checked on save; `*` and 0.0.0.0/0 are refused."""

    list_display = ["host", "enabled", "note", "created_at"]
    list_filter = ["enabled"]
    list_editable = ["enabled"]
    search_fields = ["host", "note"]
