"""The shared layer's one model: the live run of a self-scheduling task (opbox/task_chain.py)."""

from django.db import models


class TaskChain(models.Model):
    """The one live run of a self-scheduling task (e.g. the Email Log purge): each run is enqueued with
    `token`, and only the run holding the current token may work and enqueue the next one; any other
    copy (a duplicate enqueue, a run superseded after a restart) finds a different token and stops.
    """

    name = models.CharField(max_length=64, primary_key=True)
    token = models.UUIDField()
    next_run_at = models.DateTimeField()  # when the live run is due; long past it, the chain is presumed lost
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.name} (next run {self.next_run_at:%Y-%m-%d %H:%M})"
