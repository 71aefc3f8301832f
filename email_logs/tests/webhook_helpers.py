"""Helpers of the webhook tests: logged emails, the receivers' paths, and what a request may write."""

from django.urls import reverse

from email_logs.log_tables import ensure_email_log_table
from email_logs.models import EmailEvent, EmailLogEntry, EmailSource, EmailStatus, Suppression
from integrations.models import Integration
from integrations.providers import provider_for_type


def logged(integration, *, to="ada@example.com", cc="", bcc="", message_id="msg-1", status=EmailStatus.DELIVERED, error=""):
    """A row of `integration`'s Email Log, as delivery leaves it."""
    return EmailLogEntry.objects.create(
        table=ensure_email_log_table(integration),
        integration=integration,
        to=to,
        cc=cc,
        bcc=bcc,
        from_address="noreply@acme.example",
        subject="Your documents",
        status=status,
        provider=provider_for_type(integration.type).slug,
        message_id=message_id,
        source=EmailSource.WORKFLOW_EMAIL,
        error=error,
    )


def webhook_path(integration_or_id, type_name=None) -> str:
    integration_id = getattr(integration_or_id, "pk", integration_or_id)
    type_name = type_name or integration_or_id.type
    return reverse(provider_for_type(type_name).webhook_route, kwargs={"integration_id": integration_id})


def post_webhook(client, path: str, body: bytes, headers: dict):
    return client.post(path, data=body, content_type="application/json", **headers)


def everything_written() -> tuple:
    """What a webhook request may change, to compare before and after a refused one."""
    return (
        list(EmailEvent.objects.order_by("pk").values_list("provider_event_id", "type")),
        list(EmailLogEntry.objects.order_by("pk").values_list("pk", "status", "error")),
        list(Suppression.objects.order_by("pk").values_list("address", "reason")),
        list(Integration.objects.order_by("pk").values_list("pk", "last_event_at")),
    )
