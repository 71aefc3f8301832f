"""Reading documents: one of a workspace's (another workspace's id is a DoesNotExist, so a 404), with its columns."""

from django.db.models import Prefetch

from tables.models import Column

from .models import Document


def document_in(workspace, document_id: str) -> Document:
    columns = Prefetch("table__columns", queryset=Column.objects.order_by("position"))
    return Document.objects.select_related("table").prefetch_related(columns).get(workspace=workspace, pk=str(document_id))

