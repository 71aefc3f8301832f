"""How many emails wait for a worker, and since when: /readyz and the Tables page ask it (opbox.probes)."""

from django.db.models import Count, Min

from opbox.probes import Backlog

from .models import EmailLogEntry, EmailStatus


def queued_backlog(workspace=None) -> Backlog:
    """The emails still queued (of one workspace, or all) and when the oldest was queued, in one query: a
    backlog growing old means no worker is sending."""
    queued = EmailLogEntry.objects.filter(status=EmailStatus.QUEUED)
    if workspace is not None:
        queued = queued.filter(table__workspace=workspace)
    found = queued.aggregate(count=Count("pk"), oldest=Min("sent_at"))
    return Backlog(
        count=found["count"],
        oldest=found["oldest"],
        noun="emails",
        hint=(
            "Is a worker running? Queued emails are sent by `python manage.py db_worker` processes "
            "(TASKS_BACKEND=database) or `python manage.py rqworker default` (TASKS_BACKEND=rq)."
        ),
    )
