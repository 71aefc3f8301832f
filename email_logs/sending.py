"""Composing and enqueueing a send: the one `send_email` every sender calls.

Every email is written to its log (status `queued`) together with an outbox record before the provider
is ever called; the send runs as a task after the caller's transaction commits. So a rolled-back caller
sends nothing and logs nothing, and a crash mid-send leaves a `queued` row that recovery settles.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from integrations.models import Integration
from integrations.providers import OutboundMessage, provider_for_type
from integrations.exceptions import EmailProviderNotConfigured
from integrations.services import site_email_provider

from .log_tables import ensure_email_log_table
from .models import EmailLogEntry, EmailSource, OutboundEmail
from .tasks import deliver_email

MAX_RECIPIENTS = 50  # per field: a larger list is a bulk send, which this endpoint is not for
MAX_SUBJECT_LENGTH = 998  # the email line limit
HEADER_BREAKERS = ("\r", "\n", "\0")  # a header value carrying one of these could inject another header


def _address_problems(name: str, addresses: list[str], required: bool) -> list[str]:
    if required and not addresses:
        return [f"{name}: at least one address is required."]
    if len(addresses) > MAX_RECIPIENTS:
        return [f"{name}: at most {MAX_RECIPIENTS} addresses."]
    problems = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            problems.append(f"{name}: {address!r} is not a valid email address.")
    return problems


def validate_message(message: OutboundMessage, source: str) -> None:
    """Raise ValidationError (a 400) naming every problem; nothing is written for an invalid email."""
    errors: dict[str, list[str]] = {}
    for name in ("to", "cc", "bcc"):
        if problems := _address_problems(name, getattr(message, name), required=name == "to"):
            errors[name] = problems
    if not message.subject.strip():
        errors["subject"] = ["Must not be empty."]
    elif len(message.subject) > MAX_SUBJECT_LENGTH:
        errors["subject"] = [f"At most {MAX_SUBJECT_LENGTH} characters (the email line limit)."]
    elif any(character in message.subject for character in HEADER_BREAKERS):
        errors["subject"] = ["Must not contain line breaks or NUL characters."]
    if not (message.html or message.text or message.template_id):
        errors["body"] = ["Give html, text or templateId."]
    if source not in EmailSource.values:
        errors["source"] = [f"Unknown source. Allowed: {', '.join(EmailSource.values)}."]
    for attachment in message.attachments:
        if any(character in attachment.filename for character in HEADER_BREAKERS):
            errors.setdefault("attachments", []).append(
                f"{attachment.filename!r}: a filename must not contain line breaks or NUL characters."
            )
    total = sum(len(attachment.content) for attachment in message.attachments)
    if total > settings.EMAIL_MAX_ATTACHMENT_BYTES:
        errors.setdefault("attachments", []).append(
            f"Attachments total {total} bytes; at most {settings.EMAIL_MAX_ATTACHMENT_BYTES} are allowed."
        )
    if errors:
        raise ValidationError(errors)


def resolve_sender(workspace, integration_id: str | None = None) -> Integration:
    """The integration that sends for the workspace: the named one, else the site email provider."""
    if integration_id:
        integration = Integration.objects.for_workspace(workspace).filter(pk=integration_id).first()
        if integration is None:
            raise ValidationError({"integrationId": ["No such integration in this workspace."]})
        if not integration.is_email_provider:
            raise ValidationError({"integrationId": ["Not an email integration (EMAIL_PROVIDER or EMAIL_PROVIDER_ALT)."]})
    else:
        integration = site_email_provider(workspace)
        if integration is None:
            raise EmailProviderNotConfigured(
                "No site email provider is configured: create an EMAIL_PROVIDER or EMAIL_PROVIDER_ALT integration "
                "with an apiKey and setAsSiteEmailProvider: true, or pass integrationId."
            )
    if not integration.enabled:
        raise EmailProviderNotConfigured(f"The email integration {integration.name!r} is disabled: enable it to send.")
    if "apiKey" not in integration.credential_fingerprints:
        raise EmailProviderNotConfigured(f"The email integration {integration.name!r} has no apiKey: add one to send.")
    return integration


def send_email(
    workspace, message: OutboundMessage, *, source: str, integration_id: str | None = None
) -> EmailLogEntry:
    """Log and send one email of the workspace from `source`; returns its log row.

    The row is `queued` until the provider answers: at once with the inline task backend (the row comes
    back `delivered` or `failed`), later on workers. Inside a caller's transaction the send waits for
    the commit, so a rollback sends nothing and logs nothing.
    """
    validate_message(message, source)
    integration = resolve_sender(workspace, integration_id)
    table = ensure_email_log_table(integration)
    message.from_email = integration.config.get("fromEmail", "")
    message.from_name = integration.config.get("fromName", "")
    with transaction.atomic():
        entry = EmailLogEntry.objects.create(
            table=table,
            integration=integration,
            to=", ".join(message.to),
            cc=", ".join(message.cc),
            bcc=", ".join(message.bcc),
            from_address=message.from_email,
            subject=message.subject,
            provider=provider_for_type(integration.type).slug,
            template_id=message.template_id,
            source=source,
            attachment_count=len(message.attachments),
        )
        OutboundEmail.objects.create(entry=entry, payload=OutboundEmail.payload_for(message))
        transaction.on_commit(lambda: deliver_email.enqueue(entry.pk))
    entry.refresh_from_db()
    return entry


def send_test_email(integration: Integration, to: str) -> EmailLogEntry:
    """A short test email through `integration`, sent and logged like any other (see send_email)."""
    message = OutboundMessage(
        to=[to.strip()],
        subject=f"Opbox test email via {integration.name}",
        text=(
            f"This is a test email from Opbox, sent through the integration {integration.name!r} "
            "to check that it can deliver. It is logged in that integration's Email Log table."
        ),
    )
    return send_email(integration.workspace, message, source=EmailSource.WORKFLOW_EMAIL, integration_id=integration.pk)
