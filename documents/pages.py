"""Document pages: a document's own page (its values, a download link, the email it went with), its download for
a browser session, and "Render a test document" of Settings · Integrations."""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.urls import reverse
from django.views.generic import TemplateView

from integrations.pages import IntegrationPageMixin, refusal_text
from integrations.types import IntegrationType
from opbox.errors import ApplicationError
from tables.registry import source_for
from workspaces.pages import WorkspacePageMixin

from .links import email_page_url
from .models import Document, DocumentFormat, DocumentSource
from .rendering import DATA_MAX_BYTES, DocumentFailed, RenderRequest, engine_client, open_document, render_document
from .selectors import document_in
from .serializers import validate_template_id

SAMPLE_DATA = {"client": {"name": "Ada Lovelace", "email": "ada@example.com"}, "matter": "Engagement 2026-014", "amount": 1200}


class DocumentPage(WorkspacePageMixin, TemplateView):
    template_name = "documents/document.html"

    def get_context_data(self, table_id, document_id, **kwargs):
        document = self.document(document_id)
        if document.table_id != table_id:
            raise Http404("No such document in this table.")
        table = document.table
        return super().get_context_data(
            document=document,
            table=table,
            cells=[(column, getattr(document, column.field)) for column in table.columns.all()],
            failure=source_for(table.system_type).failure_of(document),
            email_url=email_page_url(self.workspace, document.email_id),
            **kwargs,
        )

    def document(self, document_id) -> Document:
        try:
            return document_in(self.workspace, document_id)
        except Document.DoesNotExist:
            raise Http404("No such document in this workspace.") from None


class DocumentDownloadPage(DocumentPage):
    """The file for a signed-in person (the API route takes tokens); the same workspace check."""

    def get(self, request, document_id, **kwargs):
        document = self.document(document_id)
        if not document.storage_name:
            raise Http404("This document failed: nothing was stored.")
        return FileResponse(open_document(document), as_attachment=True, filename=document.filename, content_type=document.content_type)


def _data(value: str) -> dict:
    try:
        data = json.loads(value)
    except ValueError as error:
        raise forms.ValidationError(f"Not valid JSON: {error}.") from None
    if not isinstance(data, dict):
        raise forms.ValidationError("A JSON object ({...}).")
    if len(value.encode()) > DATA_MAX_BYTES:
        raise forms.ValidationError(f"At most {DATA_MAX_BYTES // 1024} KiB of JSON.")
    return data


class TestDocumentForm(forms.Form):
    template_id = forms.CharField(label="Template", max_length=255, validators=[validate_template_id])
    convert_to = forms.ChoiceField(label="Format", choices=DocumentFormat.choices, initial=DocumentFormat.PDF)
    data = forms.CharField(label="Sample data (JSON)", widget=forms.Textarea(attrs={"rows": 8}), initial=json.dumps(SAMPLE_DATA, indent=2))

    def __init__(self, *args, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        if templates:
            choices = [(template.id, f"{template.name or template.id} ({template.id})") for template in templates]
            self.fields["template_id"].widget = forms.Select(choices=choices)

    def clean_data(self):
        return _data(self.cleaned_data["data"])


class TestDocumentPage(IntegrationPageMixin, TemplateView):
    """Settings · Integrations: pick one of the engine's templates, give sample JSON, render it (logged like any)."""

    template_name = "documents/test_document.html"

    def engine(self):
        integration = self.integration()
        if integration.type != IntegrationType.DOCUMENT_ENGINE:
            raise Http404("Only a document engine renders documents.")
        return integration

    def templates(self, integration):
        """(templates, why they could not be listed or None)."""
        try:
            return engine_client(integration).list_templates(), None
        except ApplicationError as error:
            return [], error.detail

    def get(self, request, *args, **kwargs):
        integration = self.engine()
        templates, problem = self.templates(integration)
        return self.render_to_response(self.get_context_data(form=TestDocumentForm(templates=templates), integration=integration, problem=problem))

    def post(self, request, *args, **kwargs):
        integration = self.engine()
        form = TestDocumentForm(request.POST)
        if not form.is_valid():
            templates, problem = self.templates(integration)
            form.fields["template_id"].widget = TestDocumentForm(templates=templates).fields["template_id"].widget
            context = self.get_context_data(form=form, integration=integration, problem=problem)
            return self.render_to_response(context, status=400)
        data = form.cleaned_data
        render = RenderRequest(data["template_id"], data["data"], data["convert_to"], "", DocumentSource.WORKFLOW_EMAIL)
        try:
            document = render_document(self.workspace, render, integration=integration)
        except DocumentFailed as failure:
            url = reverse("documents:document", args=[failure.document.table_id, failure.document.pk])
            return self.done(messages.ERROR, 'Test document failed: {} (<a href="{}">see the Document Log</a>)', failure.detail, url)
        except (ValidationError, ApplicationError) as error:
            return self.done(messages.ERROR, "Test document not rendered: {}", refusal_text(error))
        url = reverse("documents:document", args=[document.table_id, document.pk])
        return self.done(
            messages.SUCCESS, 'Rendered {} ({} bytes). <a href="{}">Open it in the Document Log</a>.', document.filename, f"{document.size:,}", url
        )
