"""Reading one logged email with everything its own view shows, in a constant number of queries."""

from django.db.models import Prefetch

from tables.models import Column

from .models import EmailEvent, EmailLogEntry


def email_in(workspace, email_id: str, *, table_id: str | None = None) -> EmailLogEntry:
    """The workspace's email `email_id` (of table `table_id` when given) with its table's columns, its
    outbox and its events oldest first; another workspace's or table's email raises DoesNotExist.

    Three queries whatever the number of events.
    """
    emails = EmailLogEntry.objects.filter(table__workspace=workspace)
    if table_id is not None:
        emails = emails.filter(table_id=table_id)
    return (
        emails.select_related("table__integration", "outbox")
        .prefetch_related(
            Prefetch("table__columns", queryset=Column.objects.order_by("position")),
            Prefetch("events", queryset=EmailEvent.objects.order_by("occurred_at", "id")),
        )
        .get(pk=email_id)
    )
