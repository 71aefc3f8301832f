"""Email pages: the test email of Settings -> Integrations, sent and logged like any other email."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.views import View

from integrations.pages import IntegrationPageMixin, refusal_text
from opbox.errors import ApplicationError

from .models import EmailStatus
from .sending import send_test_email


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
