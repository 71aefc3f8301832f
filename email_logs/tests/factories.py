"""Rows for tests, written in bulk straight into a table's typed row model."""

from datetime import timedelta

from django.utils import timezone

from email_logs.models import EmailLogEntry, EmailSource, EmailStatus


def add_rows(table, count, *, start=None, **fields):
    """`count` rows one minute apart, newest last; returns them oldest first."""
    start = start or timezone.now() - timedelta(days=1)
    rows = [
        EmailLogEntry(
            table=table,
            sent_at=start + timedelta(minutes=i),
            to=fields.get("to", f"client{i}@example.com"),
            from_address="noreply@acme.example",
            subject=fields.get("subject", f"Update {i}"),
            status=fields.get("status", EmailStatus.DELIVERED),
            provider="email-provider-a",
            message_id=f"msg-{i}" if fields.get("status", EmailStatus.DELIVERED) == EmailStatus.DELIVERED else "",
            source=fields.get("source", EmailSource.WORKFLOW_EMAIL),
            error=fields.get("error", ""),
        )
        for i in range(count)
    ]
    EmailLogEntry.objects.bulk_create(rows)
    return rows
