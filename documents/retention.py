"""Retention of the Document Log: rows older than their workspace's retention period (the one its Email Log keeps)
are deleted with their stored files, in short batches. A file is deleted only after its row's deletion committed,
so a rolled-back batch never leaves a row whose bytes are gone (a crash in between leaves, at worst, an orphan file).
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from workspaces.models import Workspace

from .models import Document
from .rendering import document_storage

BATCH_SIZE = 500


@dataclass
class DocumentPurge:
    workspace: str  # slug
    days: int
    cutoff: datetime
    rows: int = 0
    files: int = 0
    finished: bool = True


def purge_expired_documents(workspace: Workspace | None = None, *, dry_run=False, deadline: float | None = None,
                            batch_size: int = BATCH_SIZE) -> list[DocumentPurge]:  # fmt: skip
    """Delete the expired documents (rows and files) of every workspace with a retention period, or of `workspace`.
    Past `deadline` (a time.monotonic() value) it stops after the batch in hand (`finished` False)."""
    workspaces = Workspace.objects.filter(email_log_retention_days__isnull=False)
    if workspace is not None:
        workspaces = workspaces.filter(pk=workspace.pk)
    reports = []
    for chosen in workspaces.order_by("pk"):
        cutoff = timezone.now() - timedelta(days=chosen.email_log_retention_days)
        report = DocumentPurge(chosen.slug, chosen.email_log_retention_days, cutoff)
        expired = Document.objects.filter(workspace=chosen, generated_at__lt=cutoff)
        if dry_run:
            report.rows = expired.count()
            report.files = expired.exclude(storage_name="").count()
        else:
            _purge(expired, report, deadline, batch_size)
        reports.append(report)
    return reports


def _purge(expired, report: DocumentPurge, deadline: float | None, batch_size: int) -> None:
    storage = document_storage()
    while True:
        with transaction.atomic():
            batch = list(expired.order_by("generated_at", "id").values_list("pk", "storage_name")[:batch_size])
            if not batch:
                return
            Document.objects.filter(pk__in=[pk for pk, _ in batch]).delete()
        for _, name in batch:  # after the commit: the rows are gone for good
            if name:
                storage.delete(name)
                report.files += 1
        report.rows += len(batch)
        if deadline is not None and time.monotonic() > deadline:
            report.finished = False
            return
