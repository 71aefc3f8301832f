"""The settings page's integration form, built from the type definitions in `types.py`.

The form only translates between inputs and the arguments of the services; the rules (validation,
the site email provider, merge semantics) stay in `services.py`. Secrets are write-only: a password
input that is never filled in, where blank keeps the stored value.
"""

import re

from django import forms

from .models import Integration
from .services import MAX_NAME_LENGTH
from .types import MAX_VALUE_LENGTH, TypeDefinition

_INPUTS = {"text": forms.TextInput, "email": forms.EmailInput, "url": forms.URLInput}


def credential_label(name: str) -> str:
    """"apiKey" -> "API key", "refreshToken" -> "Refresh token"."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower().split()
    words = ["API" if word == "api" else word for word in words]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


class IntegrationForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME_LENGTH)
    enabled = forms.BooleanField(required=False, initial=True, help_text="Disabled integrations are kept but not used.")

    def __init__(self, definition: TypeDefinition, *args, integration: Integration | None = None, **kwargs):
        self.definition = definition
        self.integration = integration  # the one being edited, or None for a new one
        if integration is not None:
            kwargs.setdefault("initial", self._initial_from(integration))
        super().__init__(*args, **kwargs)
        if definition.is_email_provider:
            self.fields["site_email_provider"] = forms.BooleanField(
                required=False,
                label="Use as the site email provider",
                help_text="The workspace's outbound email goes through this integration (one per workspace).",
            )
        for field in definition.config_fields:
            self.fields[f"config_{field.name}"] = forms.CharField(
                label=field.label,
                required=False,
                max_length=MAX_VALUE_LENGTH,
                validators=[field.validator] if field.validator else [],
                widget=_INPUTS[field.input_type](),
            )
        stored = integration.credential_fingerprints if integration else {}
        for name in definition.credential_fields:
            label = credential_label(name)
            self.fields[f"credential_{name}"] = forms.CharField(
                label=label,
                required=False,
                max_length=MAX_VALUE_LENGTH,
                strip=False,
                # render_value=False: what was typed is never sent back, not even after an error.
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                help_text=f"Stored: {stored[name]}. Leave blank to keep it." if name in stored else "Not set.",
            )
            if name in stored:
                self.fields[f"remove_{name}"] = forms.BooleanField(required=False, label=f"Remove the stored {label.lower()}")

    @staticmethod
    def _initial_from(integration: Integration) -> dict:
        initial = {
            "name": integration.name,
            "enabled": integration.enabled,
            "site_email_provider": integration.is_site_email_provider,
        }
        initial.update({f"config_{key}": value for key, value in integration.config.items()})
        return initial

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

    def service_arguments(self) -> dict:
        arguments = {"name": self.cleaned_data["name"], "enabled": self.cleaned_data["enabled"]}
        if self.definition.is_email_provider:
            arguments["set_as_site_email_provider"] = self.cleaned_data["site_email_provider"]
        return arguments


class TestEmailForm(forms.Form):
    to = forms.EmailField(label="Send a test email to")
