"""The inputs of one integration type, shared by the settings page's form and the admin's, built from the
type definitions in `types.py`.

The forms only translate between inputs and the arguments of `create_integration`/`update_integration`, and
check them with `services.check_integration_input` (what those services check before writing). Secrets are
write-only: a password input that is never filled in, where blank keeps the stored value.
"""

from django import forms
from django.core.exceptions import ValidationError

from . import services
from .models import Integration
from .types import MAX_NAME_LENGTH, MAX_VALUE_LENGTH, TypeDefinition, credential_label

_INPUTS = {"text": forms.TextInput, "email": forms.EmailInput, "url": forms.URLInput}


def type_inputs(definition: TypeDefinition, integration: Integration | None = None) -> dict[str, forms.Field]:
    """One type's inputs by name: `site_email_provider` (email types), `config_<name>`, `credential_<name>`,
    and `remove_<name>` for each credential `integration` has stored.
    """
    inputs = {}
    if definition.is_email_provider:
        inputs["site_email_provider"] = forms.BooleanField(
            required=False,
            label="Use as the site email provider",
            help_text="The workspace's outbound email goes through this integration (one per workspace).",
        )
    for field in definition.config_fields:
        inputs[f"config_{field.name}"] = forms.CharField(
            label=field.label,
            required=False,
            max_length=MAX_VALUE_LENGTH,
            validators=list(field.validators),
            widget=_INPUTS[field.input_type](),
            help_text=field.help_text,
        )
    stored = integration.credential_fingerprints if integration else {}
    for name in definition.credential_fields:
        label = credential_label(name)
        inputs[f"credential_{name}"] = forms.CharField(
            label=label,
            required=False,
            max_length=MAX_VALUE_LENGTH,
            strip=False,
            # render_value=False: what was typed is never sent back, not even after an error.
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            help_text=" ".join(filter(None, (
                f"Stored: {stored[name]}. Leave blank to keep it." if name in stored else (
                    "Optional; not set." if name in definition.optional_credentials else "Not set."
                ),
                definition.help_for(name),
            ))),
        )
        if name in stored:
            inputs[f"remove_{name}"] = forms.BooleanField(required=False, label=f"Remove the stored {label.lower()}")
    return inputs


class TypeInputsMixin:
    """Adds one type's inputs (`type_inputs`) to a Django form that has `name` and `enabled` fields, checks
    them through the services' rules, and turns them into service arguments.
    """

    def __init__(self, *args, definition: TypeDefinition, integration: Integration | None = None, **kwargs):
        self.definition = definition
        self.integration = integration  # the one being edited, or None for a new one
        super().__init__(*args, **kwargs)
        self.fields.update(type_inputs(definition, integration))
        if integration is not None:
            for key, value in integration.config.items():
                self.initial.setdefault(f"config_{key}", value)
            self.initial.setdefault("site_email_provider", integration.is_site_email_provider)

    def clean(self):
        cleaned = super().clean()
        if not self.errors:  # the inputs are well-formed: now the rules every path shares
            try:
                services.check_integration_input(
                    self.definition.type.value,
                    config=self.config_values(),
                    credentials=self.credentials_patch(),
                    **self._common_arguments(),
                )
            except ValidationError as error:
                self.add_service_errors(error)
        return cleaned

    def add_service_errors(self, error: ValidationError) -> None:
        """Put a service's ValidationError on the form: `name` on its field, the rest above the form."""
        messages_by_key = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
        for key, problems in messages_by_key.items():
            for problem in problems:
                self.add_error("name" if key == "name" else None, problem)

    def config_fields(self):
        return [self[f"config_{field.name}"] for field in self.definition.config_fields]

    def credential_fields(self):
        names = self.definition.credential_fields
        return [(self[f"credential_{n}"], self[f"remove_{n}"] if f"remove_{n}" in self.fields else None) for n in names]

    def config_values(self) -> dict:
        """Config as a merge patch: a cleared input removes the key."""
        return {field.name: self.cleaned_data[f"config_{field.name}"] or None for field in self.definition.config_fields}

    def credentials_patch(self) -> dict:
        """Only what the user typed or asked to remove; blank inputs keep the stored secrets."""
        patch = {}
        for name in self.definition.credential_fields:
            if self.cleaned_data.get(f"remove_{name}"):
                patch[name] = None
            elif value := self.cleaned_data[f"credential_{name}"]:
                patch[name] = value
        return patch

    def create_arguments(self) -> dict:
        """Keyword arguments of `services.create_integration` (after the workspace)."""
        return {
            "type": self.definition.type.value,
            "config": self.config_values(),
            "credentials": self.credentials_patch(),
            **self._common_arguments(),
        }

    def update_arguments(self) -> dict:
        """Keyword arguments of `services.update_integration` (after the integration)."""
        return {
            "config_patch": self.config_values(),
            "credentials_patch": self.credentials_patch() or None,
            **self._common_arguments(),
        }

    def _common_arguments(self) -> dict:
        return {
            "name": self.cleaned_data["name"],
            "enabled": self.cleaned_data["enabled"],
            "set_as_site_email_provider": bool(self.cleaned_data.get("site_email_provider")),
        }


class IntegrationForm(TypeInputsMixin, forms.Form):
    """The settings page's form: IntegrationForm(request.POST, definition=..., integration=...)."""

    name = forms.CharField(max_length=MAX_NAME_LENGTH)
    enabled = forms.BooleanField(required=False, initial=True, help_text="Disabled integrations are kept but not used.")

    def __init__(self, *args, definition: TypeDefinition, integration: Integration | None = None, **kwargs):
        if integration is not None:
            kwargs.setdefault("initial", {"name": integration.name, "enabled": integration.enabled})
        super().__init__(*args, definition=definition, integration=integration, **kwargs)
