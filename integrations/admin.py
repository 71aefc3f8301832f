"""Django admin for integrations: type first, then that type's own inputs (the settings page's), saved
through the same services as the API. Secrets are write-only.
"""

from functools import partial
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from opbox.admin import ReadOnlyAdmin

from . import services
from .forms import TypeInputsMixin, type_inputs
from .models import Integration, IntegrationAuditEvent
from .providers import connector_for
from .types import TYPES, definition_for, fingerprint_key


class IntegrationAdminForm(TypeInputsMixin, forms.ModelForm):
    """The model's own fields, plus one type's inputs (the admin passes `definition`)."""

    class Meta:
        model = Integration
        fields = ["workspace", "name", "enabled"]

    def __init__(self, *args, definition, instance=None, **kwargs):
        adding = instance is None or instance._state.adding  # (a new integration already has its id)
        super().__init__(*args, definition=definition, integration=None if adding else instance, instance=instance, **kwargs)
        if adding:
            self.instance.type = definition.type.value  # shown read-only above the inputs
        else:
            self.fields["workspace"].disabled = True


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationAdminForm
    list_display = ["name", "type", "workspace", "enabled", "is_site_email_provider", "fingerprints", "last_check_ok", "updated_at"]
    list_filter = ["type", "enabled", "is_site_email_provider", "workspace"]
    search_fields = ["name", "id", "workspace__slug", "workspace__name"]
    list_select_related = ["workspace"]
    readonly_fields = [
        "id", "type", "created_at", "updated_at", "last_event_at",
        "last_checked_at", "last_check_ok", "last_check_detail", "token_expires_at", "reconnect_needed",
    ]  # fmt: skip
    choose_type_template = "admin/integrations/integration/choose_type.html"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("credentials")

    @admin.display(description="Credentials")
    def fingerprints(self, integration):
        stored = integration.credential_fingerprints or {}
        return ", ".join(f"{fingerprint_key(name)}: {value}" for name, value in stored.items()) or "—"

    def add_view(self, request, form_url="", extra_context=None):
        """Without a known `?type=`, first choose one (as on the settings pages)."""
        if request.GET.get("type") in TYPES:
            return super().add_view(request, form_url, extra_context)
        if not self.has_add_permission(request):
            raise PermissionDenied
        query = request.GET.copy()
        choices = []
        for type_name, definition in TYPES.items():
            query["type"] = type_name
            choices.append((definition, f"?{urlencode(sorted(query.items()))}"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Add integration: choose its type",
            "choices": choices,
        }
        return TemplateResponse(request, self.choose_type_template, context)

    def get_fieldsets(self, request, obj=None):
        definition = self._definition(request, obj)
        inputs = list(type_inputs(definition, obj))
        general = ["workspace", "type", "name", "enabled"] + [n for n in inputs if n == "site_email_provider"]
        fieldsets = [
            (None, {"fields": general}),
            ("Configuration", {"fields": [n for n in inputs if n.startswith("config_")]}),
            ("Credentials", {"fields": [n for n in inputs if n.startswith(("credential_", "remove_"))]}),
        ]
        if obj is not None:
            fieldsets.append(("Record", {"fields": ["id", "created_at", "updated_at", "last_event_at"]}))
            connection = ["last_checked_at", "last_check_ok", "last_check_detail"]
            if connector_for(obj.type).client_class.refreshes_tokens:  # OAuth state
                connection += ["token_expires_at", "reconnect_needed"]
            fieldsets.append(("Connection check", {"fields": connection}))
        return [(title, options) for title, options in fieldsets if options["fields"]]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The model part comes from the admin; the type's inputs are added by the form itself.
        kwargs["fields"] = IntegrationAdminForm.Meta.fields
        return partial(super().get_form(request, obj, change, **kwargs), definition=self._definition(request, obj))

    def save_model(self, request, obj, form, change):
        """Save through the services, as the API and the settings pages do (the form checked their rules)."""
        if change:
            saved = services.update_integration(obj, actor=request.user, **form.update_arguments())
        else:
            saved = services.create_integration(form.cleaned_data["workspace"], actor=request.user, **form.create_arguments())
        # The admin's redirect and log message read the object it passed in.
        obj.pk, obj.name = saved.pk, saved.name

    def delete_model(self, request, obj):
        services.delete_integration(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for integration in queryset:
            services.delete_integration(integration, actor=request.user)

    @staticmethod
    def _definition(request, obj):
        return obj.definition if obj is not None else definition_for(request.GET["type"])


@admin.register(IntegrationAuditEvent)
class IntegrationAuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "integration_name", "action", "changes", "actor", "workspace"]
    list_filter = ["action", "workspace"]
    search_fields = ["integration_id", "integration_name", "actor__email"]
    list_select_related = ["actor", "workspace"]
