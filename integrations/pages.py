"""Settings -> Integrations: every member sees the list; owners and admins add, change and test.

Each view parses the form, calls the same services as the API, and says what happened in plain words.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views import View
from django.views.generic import TemplateView

from opbox.errors import ApplicationError
from workspaces.pages import WorkspacePageMixin

from . import connection_checks, services
from .cards import card_facts
from .forms import IntegrationForm
from .models import Integration
from .providers import connector_for
from .types import TYPES, credential_label, definition_for

LIST_URL = "integration-settings:list"


def refusal_text(error: ValidationError | ApplicationError) -> str:
    """A refusal's text for a message: a ValidationError's messages, or what an application error tells users."""
    return " ".join(error.messages) if isinstance(error, ValidationError) else error.detail


class IntegrationPageMixin(WorkspacePageMixin):
    """Pages that change integrations: owners and admins only."""

    admin_only = True

    def integration(self) -> Integration:
        try:
            return services.integration_in(self.workspace, self.kwargs["integration_id"])
        except Integration.DoesNotExist:
            raise Http404("No such integration in this workspace.") from None

    def done(self, level, text, *args):
        messages.add_message(self.request, level, format_html(text, *args))
        return HttpResponseRedirect(reverse(LIST_URL))

    def submit(self, form, save, success: str):
        """Validate `form`, then `save(form)` through a service; a refusal goes back on the form (400)."""
        if form.is_valid():
            try:
                integration = save(form)
            except ValidationError as error:  # e.g. a concurrent change broke a rule after the form's check
                form.add_service_errors(error)
            else:
                return self.done(messages.SUCCESS, success, integration.name)
        return self.render_form(form, status=400)

    def render_form(self, form, status=200, test_outcome=None):
        context = {
            "form": form, "definition": form.definition, "integration": form.integration, "test_outcome": test_outcome,
            "check_proves": connector_for(form.definition.type).client_class.check_proves,
            "test_url": self.test_url(form),
        }  # fmt: skip
        if form.integration is not None:  # where its provider posts events, as the list shows it
            context["webhook_url"] = services.webhook_url(form.integration, self.request)
        return render(self.request, "integrations/form.html", context, status=status)

    def test_url(self, form) -> str:
        if form.integration is not None:
            return reverse("integration-settings:test", args=[form.integration.pk])
        return reverse("integration-settings:test-new") + f"?type={form.definition.type.value}"

    def test(self, form, check):
        """The form's "Test": check its unsaved values with `check(form)`, store nothing, and show the sentence (as
        JSON for the page's script, which keeps what was typed; else on the form again, without the secrets)."""
        wants_json = "application/json" in self.request.headers.get("Accept", "")
        if not form.is_valid():
            if wants_json:
                problems = [str(error) for errors in form.errors.values() for error in errors]
                return JsonResponse({"ok": False, "detail": "Fix the form first: " + " ".join(problems)}, status=400)
            return self.render_form(form, status=400)
        try:
            outcome = check(form)
        except ValidationError as error:
            form.add_service_errors(error)
            return self.test(form, check)
        except ApplicationError as error:  # e.g. stored credentials that cannot be decrypted
            outcome = connection_checks.CheckOutcome(False, error.detail, timezone.now(), error.http_status)
        if wants_json:
            return JsonResponse({"ok": outcome.ok, "detail": outcome.detail})
        return self.render_form(form, test_outcome=outcome)


class IntegrationListPage(WorkspacePageMixin, TemplateView):
    template_name = "integrations/settings_list.html"

    def get_context_data(self, **kwargs):
        integrations = list(services.integrations_for(self.workspace))
        facts = card_facts(integrations)
        for integration in integrations:
            integration.card_facts = facts.get(integration.pk, [])
            integration.settings = [
                (field.label, integration.config[field.name])
                for field in integration.definition.config_fields
                if field.name in integration.config
            ]
            integration.fingerprints = [
                (credential_label(name), fingerprint) for name, fingerprint in integration.credential_fingerprints.items()
            ]
            integration.webhook_url = services.webhook_url(integration, self.request)
        return super().get_context_data(
            integrations=integrations, can_change=self.membership.is_admin, test_email_to=self.request.user.email, **kwargs
        )


class IntegrationCreatePage(IntegrationPageMixin, View):
    """GET without a type: choose one. GET ?type=...: its form. POST: create it."""

    def get(self, request):
        type_name = request.GET.get("type", "")
        if not type_name:
            return render(request, "integrations/choose_type.html", {"types": TYPES.values()})
        return self.render_form(IntegrationForm(definition=self._definition(type_name)))

    def post(self, request):
        definition = self._definition(request.GET.get("type", ""))

        def create(form):
            return services.create_integration(self.workspace, actor=request.user, **form.create_arguments())

        return self.submit(IntegrationForm(request.POST, definition=definition), create, "Added {}.")

    @staticmethod
    def _definition(type_name):
        if type_name not in TYPES:
            raise Http404("Unknown integration type.")
        return definition_for(type_name)


class IntegrationTestNewPage(IntegrationPageMixin, View):
    """POST ?type=...: "Test" on the add form: checks the values typed, stores nothing."""

    def post(self, request):
        definition = IntegrationCreatePage._definition(request.GET.get("type", ""))

        def check(form):
            return connection_checks.check_unsaved_values(self.workspace, **form.create_arguments())

        return self.test(IntegrationForm(request.POST, definition=definition), check)


class IntegrationTestPage(IntegrationPageMixin, View):
    """POST: "Test" on the edit form: the typed values merged over the stored ones, checked; nothing is stored."""

    def post(self, request, integration_id):
        integration = self.integration()

        def check(form):
            return connection_checks.check_patched_values(integration, **form.update_arguments())

        return self.test(IntegrationForm(request.POST, definition=integration.definition, integration=integration), check)


class IntegrationEditPage(IntegrationPageMixin, View):
    def get(self, request, integration_id):
        integration = self.integration()
        return self.render_form(IntegrationForm(definition=integration.definition, integration=integration))

    def post(self, request, integration_id):
        integration = self.integration()

        def update(form):
            return services.update_integration(integration, actor=request.user, **form.update_arguments())

        form = IntegrationForm(request.POST, definition=integration.definition, integration=integration)
        return self.submit(form, update, "Saved {}.")


class IntegrationDeletePage(IntegrationPageMixin, View):
    def get(self, request, integration_id):
        return render(request, "integrations/confirm_delete.html", {"integration": self.integration()})

    def post(self, request, integration_id):
        integration = self.integration()
        services.delete_integration(integration, actor=request.user)
        return self.done(messages.SUCCESS, "Deleted {}. Its Email Log, if it had one, is kept.", integration.name)


class IntegrationEnablePage(IntegrationPageMixin, View):
    """POST enabled=1|0."""

    def post(self, request, integration_id):
        integration = self.integration()
        enabled = request.POST.get("enabled") == "1"
        services.update_integration(integration, enabled=enabled, actor=request.user)
        return self.done(messages.SUCCESS, "{} is now {}.", integration.name, "enabled" if enabled else "disabled")


class SiteEmailProviderPage(IntegrationPageMixin, View):
    def post(self, request, integration_id):
        integration = self.integration()
        try:
            services.update_integration(integration, set_as_site_email_provider=True, actor=request.user)
        except ValidationError as error:
            return self.done(messages.ERROR, "{} cannot be the site email provider: {}", integration.name, refusal_text(error))
        return self.done(messages.SUCCESS, "{} is now the site email provider.", integration.name)


class CheckConnectionPage(IntegrationPageMixin, View):
    """Checks the stored values through the API's service, which records the outcome shown on the list."""

    def post(self, request, integration_id):
        integration = self.integration()
        outcome = connection_checks.check_integration(integration)
        if outcome.ok:
            return self.done(messages.SUCCESS, "{}: connection check passed. {}", integration.name, outcome.detail)
        return self.done(messages.ERROR, "{}: connection check failed. {}", integration.name, outcome.detail)
