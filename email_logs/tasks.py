"""The Django task that sends a queued email: inline with the immediate backend, on db_worker otherwise."""

from django_tasks import task

from .delivery import deliver_queued_email


@task()
def deliver_email(entry_id: str) -> str:
    return deliver_queued_email(entry_id)
