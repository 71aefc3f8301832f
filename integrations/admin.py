"""Django admin for integrations: saves go through the same services as the API, secrets are write-only."""

from django import forms
from django.contrib import admin

from opbox.admin import ReadOnlyAdmin
from django.core.exceptions import ValidationError

from . import services
from .models import Integration, IntegrationAuditEvent
from .types import ALL_CREDENTIAL_FIELDS, TYPES, fingerprint_key, validate_config, validate_credentials

_CREDENTIAL_PREFIX = "credential_"


def _credential_input(name: str) -> forms.CharField:
    return forms.CharField(
        label=f"{name} (credential)",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the stored value.",
    )


class _IntegrationAdminForm(forms.ModelForm):
    set_as_site_email_provider = forms.BooleanField(
        required=False, help_text="Make this the workspace's site email provider (email types only)."
    )

    class Meta:
        model = Integration
        fields = ["workspace", "name", "type", "config", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:  # (a new integration already has its id: check the state)
            self.fields["workspace"].disabled = True
            self.fields["type"].disabled = True
            self.fields["set_as_site_email_provider"].initial = self.instance.is_site_email_provider

    def credentials_entered(self) -> dict:
        return {
            name: self.cleaned_data[_CREDENTIAL_PREFIX + name]
            for name in ALL_CREDENTIAL_FIELDS
            if self.cleaned_data.get(_CREDENTIAL_PREFIX + name)
        }

    def clean(self):
        """The same rules as the API, checked here so a mistake redisplays the form instead of failing."""
        cleaned = super().clean()
        type_name = cleaned.get("type") or self.instance.type
        if type_name not in TYPES:
            return cleaned
        checks = [
            lambda: services.clean_name(cleaned.get("name", "")),
            lambda: validate_config(type_name, cleaned.get("config") or {}),
            lambda: validate_credentials(type_name, self.credentials_entered()),
            lambda: services.check_site_provider_rules(
                type_name, cleaned.get("enabled", False), cleaned.get("set_as_site_email_provider", False)
            ),
        ]
        for check in checks:
            try:
                check()
            except ValidationError as error:
                self.add_error(None, error.messages)
        return cleaned


# Declared on the class (not added in __init__) so the admin's fieldsets include them.
IntegrationAdminForm = type(
    "IntegrationAdminForm",
    (_IntegrationAdminForm,),
    {
        "__doc__": "Credentials are password inputs that never render a value; blank keeps what is stored.",
        "__module__": __name__,
        **{_CREDENTIAL_PREFIX + name: _credential_input(name) for name in ALL_CREDENTIAL_FIELDS},
    },
)


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationAdminForm
    list_display = ["name", "type", "workspace", "enabled", "is_site_email_provider", "fingerprints", "updated_at"]
    list_filter = ["type", "enabled", "is_site_email_provider", "workspace"]
    search_fields = ["name", "id", "workspace__slug", "workspace__name"]
    list_select_related = ["workspace"]
    readonly_fields = ["id", "fingerprints", "is_site_email_provider", "created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("credentials")

    @admin.display(description="Credentials")
    def fingerprints(self, integration):
        stored = integration.credential_fingerprints or {}
        return ", ".join(f"{fingerprint_key(name)}: {value}" for name, value in stored.items()) or "—"

    def save_model(self, request, obj, form, change):
        """Save through the services, as the API does (the form has already checked their rules)."""
        data = form.cleaned_data
        if change:
            stored = Integration.objects.get(pk=obj.pk)
            saved = services.update_integration(
                stored,
                name=data["name"],
                config_patch=_as_patch(stored.config, data.get("config") or {}),
                credentials_patch=form.credentials_entered() or None,
                enabled=data["enabled"],
                set_as_site_email_provider=data["set_as_site_email_provider"],
                actor=request.user,
            )
        else:
            saved = services.create_integration(
                data["workspace"],
                name=data["name"],
                type=data["type"],
                config=data.get("config") or {},
                credentials=form.credentials_entered(),
                enabled=data["enabled"],
                set_as_site_email_provider=data["set_as_site_email_provider"],
                actor=request.user,
            )
        # The admin's redirect and log message read the object it passed in.
        obj.pk, obj.name = saved.pk, saved.name

    def delete_model(self, request, obj):
        services.delete_integration(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for integration in queryset:
            services.delete_integration(integration, actor=request.user)


def _as_patch(current: dict, wanted: dict) -> dict:
    """The merge patch that turns `current` into `wanted` (removed keys become null)."""
    patch = {key: None for key in current if key not in wanted}
    patch.update(wanted)
    return patch


@admin.register(IntegrationAuditEvent)
class IntegrationAuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "integration_name", "action", "changes", "actor", "workspace"]
    list_filter = ["action", "workspace"]
    search_fields = ["integration_id", "integration_name", "actor__email"]
    list_select_related = ["actor", "workspace"]
