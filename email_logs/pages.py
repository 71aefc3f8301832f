"""Email pages: the test email of Settings -> Integrations (sent and logged like any other email), an
email's own page, and Settings -> Suppressions.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.views import View
from django.views.generic import TemplateView
from rest_framework.exceptions import ValidationError as BadQuery
from rest_framework.request import Request

from documents.attachments import documents_of
from integrations.pages import IntegrationPageMixin, refusal_text
from opbox.errors import ApplicationError
from tables.registry import source_for
from workspaces.pages import WorkspacePageMixin

from .events import suppressions
from .models import EmailLogEntry, EmailStatus, Suppression
from .pagination import SuppressionPages
from .selectors import email_in
from .sending.intake import send_test_email


class TestEmailForm(forms.Form):
    to = forms.EmailField(label="Send a test email to")


class SendTestEmailPage(IntegrationPageMixin, View):
    """Sends through the outbound email service, so the test is logged like any other email."""

    def post(self, request, integration_id):
        integration = self.integration()
        form = TestEmailForm(request.POST)
        if not form.is_valid():
            return self.done(messages.ERROR, "Test email not sent: {}", " ".join(form.errors["to"]))
        try:
            entry = send_test_email(integration, form.cleaned_data["to"])
        except (ValidationError, ApplicationError) as error:
            return self.done(messages.ERROR, "Test email not sent: {}", refusal_text(error))
        log_url = reverse("tables:table", args=[entry.table_id])
        if entry.status == EmailStatus.FAILED:
            return self.done(messages.ERROR, 'Test email failed: {} (<a href="{}">see the Email Log</a>)', entry.error, log_url)
        outcome = "delivered" if entry.status == EmailStatus.DELIVERED else "queued for delivery"
        return self.done(messages.SUCCESS, 'Test email to {} {}. <a href="{}">See it in the Email Log</a>.', entry.to, outcome, log_url)


def attachments_of(entry, outbox) -> list[dict]:
    """The email's attachments as far as they are known: the outbox's while it waits, and every document rendered
    for it (linked to its page), by filename."""
    listed = {}
    for item in (outbox.payload.get("attachments", []) if outbox is not None else []):
        listed[item["filename"]] = {"filename": item["filename"], "url": None, "status": "to render" if "document" in item else ""}
    for document in documents_of(entry.table.workspace_id, entry.pk):
        url = reverse("documents:document", args=[document.table_id, document.pk])
        listed[document.filename] = {"filename": document.filename, "url": url, "status": document.status}
    return list(listed.values())


class EmailPage(WorkspacePageMixin, TemplateView):
    """One email of an Email Log: its 13 values, why it failed, and the provider's events, oldest first."""

    template_name = "email_logs/email.html"

    def get_context_data(self, table_id, row_id, **kwargs):
        try:
            entry = email_in(self.workspace, row_id, table_id=table_id)
        except EmailLogEntry.DoesNotExist:
            raise Http404("No such email in this workspace.") from None
        table = entry.table
        return super().get_context_data(
            entry=entry,
            table=table,
            cells=[(column, getattr(entry, column.field)) for column in table.columns.all()],
            failure=source_for(table.system_type).failure_of(entry),
            attempts=entry.attempts_so_far,
            events=list(entry.events.all()),
            attachments=attachments_of(entry, getattr(entry, "outbox", None)),
            **kwargs,
        )


LIST_URL = "emails:suppressions"


class SuppressionForm(forms.Form):
    address = forms.CharField(label="Email address", max_length=suppressions.MAX_ADDRESS_LENGTH)


class SuppressionListPage(WorkspacePageMixin, TemplateView):
    """Every member sees the list (searchable, a page at a time); owners and admins add and remove."""

    template_name = "email_logs/suppressions.html"

    def get(self, request, *args, **kwargs):
        search = request.GET.get("q", "").strip()[: suppressions.MAX_ADDRESS_LENGTH]
        paginator = SuppressionPages()
        try:
            rows = paginator.paginate_queryset(suppressions.suppressions_for(self.workspace, search), Request(request))
            error = None
        except BadQuery:  # a stale or hand-edited cursor
            rows, error = [], "That page of the list no longer exists."
        context = self.get_context_data(
            suppressions=rows,
            search=search,
            error=error,
            newer_url=paginator.get_previous_link() if rows else None,
            older_url=paginator.get_next_link() if rows else None,
            can_change=self.membership.is_admin,
            form=SuppressionForm(),
        )
        return self.render_to_response(context, status=400 if error else 200)


class SuppressionChangePage(WorkspacePageMixin, View):
    """Owners and admins only: each change goes through the same service as the API, audited alike."""

    admin_only = True

    def done(self, level, text, *args):
        messages.add_message(self.request, level, format_html(text, *args))
        return HttpResponseRedirect(reverse(LIST_URL))


class AddSuppressionPage(SuppressionChangePage):
    def post(self, request):
        form = SuppressionForm(request.POST)
        if not form.is_valid():
            return self.done(messages.ERROR, "Not suppressed: {}", " ".join(form.errors["address"]))
        try:
            suppression, created = suppressions.add_suppression(self.workspace, form.cleaned_data["address"], actor=request.user)
        except ValidationError as error:
            return self.done(messages.ERROR, "Not suppressed: {}", refusal_text(error))
        if not created:
            return self.done(messages.INFO, "{} was already suppressed ({}).", suppression.address, suppression.reason)
        return self.done(messages.SUCCESS, "Suppressed {}: no email will be sent to it.", suppression.address)


class RemoveSuppressionPage(SuppressionChangePage):
    def post(self, request, address):
        try:
            suppressions.remove_suppression(self.workspace, address, actor=request.user)
        except Suppression.DoesNotExist:
            raise Http404("That address is not suppressed in this workspace.") from None
        return self.done(messages.SUCCESS, "Removed {} from the suppression list: email to it is sent again.", address)
