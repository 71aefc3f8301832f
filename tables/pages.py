"""The Tables pages: the workspace's tables by tab, and one table's rows (filters, search, newer/older)."""

from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from django.views.generic import TemplateView

from opbox.probes import STALE_AFTER, backlogs
from workspaces.pages import WorkspacePageMixin

from . import services
from .models import SystemType, Table
from .registry import source_for


def stale_backlogs(workspace) -> dict:
    """The workspace's work that has waited too long for a worker (e.g. queued emails), for a warning."""
    stale = [backlog for backlog in backlogs(workspace).values() if backlog.is_stale]
    return {"stale_backlogs": stale, "stale_after_minutes": int(STALE_AFTER.total_seconds() // 60)}


class TablesPage(WorkspacePageMixin, TemplateView):
    """Tabs: Integrations (the tables integrations keep, created on the visit if missing) and All tables."""

    template_name = "tables/index.html"
    tabs = {"integrations": "Integrations", "all": "All tables"}

    def get_context_data(self, **kwargs):
        tab = self.request.GET.get("tab", "integrations")
        if tab not in self.tabs:
            raise Http404("No such tab.")
        if tab == "integrations":
            services.ensure_all_system_tables(self.workspace)
            # Every table an integration keeps (its Email Log, Document Log...), kept ones of disabled integrations too.
            tables = services.tables_for(self.workspace).exclude(system_type="")
        else:
            tables = services.tables_for(self.workspace)
        summaries = services.table_summaries(tables)
        return super().get_context_data(
            tab=tab, tabs=self.tabs, tab_label=self.tabs[tab], summaries=summaries, retention=self._retention(summaries),
            **stale_backlogs(self.workspace), **kwargs,
        )  # fmt: skip

    def _retention(self, summaries) -> list[tuple[str, int | None]]:
        """(label, days kept or None for forever) of each kind of table listed that has a retention policy."""
        kinds = dict.fromkeys(summary.table.system_type for summary in summaries if summary.table.system_type)
        sources = [(SystemType(kind).label, source_for(kind)) for kind in kinds]
        return [(label, source.retention_days(self.workspace)) for label, source in sources if source.retention_days]


class TablePage(WorkspacePageMixin, TemplateView):
    """One table: its columns in order, newest rows first, a page at a time by cursor."""

    template_name = "tables/table.html"
    page_size = services.DEFAULT_PAGE_SIZE

    def get(self, request, *args, **kwargs):
        try:
            self.table = services.table_in(self.workspace, kwargs["table_id"])
        except Table.DoesNotExist:
            raise Http404("No such table in this workspace.") from None
        self.source = source_for(self.table.system_type)
        try:
            self.query = services.row_query(self.table, request.GET)
            self.page = services.row_page(self.table, self.query, request.GET.get("cursor") or None, self.page_size)
            self.error = None
        except ValidationError as error:
            # A stale cursor or a hand-edited filter: say what was wrong, show no rows, answer 400.
            self.query = getattr(self, "query", None) or services.RowQuery(filters={})
            self.page, self.error = None, " ".join(error.messages)
        response = super().get(request, *args, **kwargs)
        if self.error:
            response.status_code = 400
        return response

    def _link(self, **changes) -> str:
        params = {**self.query.filters, "q": self.query.search, **changes}
        encoded = urlencode({name: value for name, value in params.items() if value})
        return f"?{encoded}" if encoded else ""

    def get_context_data(self, **kwargs):
        columns = list(self.table.columns.all())
        rows = [
            {
                "cells": [(column, getattr(row, column.field)) for column in columns],
                "failure": self.source.failure_of(row),
                "url": self.source.url_of(self.table, row),
            }
            for row in (self.page.rows if self.page else [])
        ]
        filtered = any(self.query.filters.values()) or bool(self.query.search)
        return super().get_context_data(
            table=self.table,
            columns=columns,
            rows=rows,
            query=self.query,
            filter_choices=[
                (f.parameter, f.label, f.choices, self.query.filters.get(f.parameter, "")) for f in self.source.filters
            ],
            source=self.source,
            has_retention=self.source.retention_days is not None,
            retention_days=self.source.retention_days(self.workspace) if self.source.retention_days else None,
            link_field=self.source.link_field or (columns[0].field if columns else ""),
            filtered=filtered,
            error=self.error,
            newer_url=self._link(cursor=self.page.previous_cursor) if self.page and self.page.previous_cursor else None,
            older_url=self._link(cursor=self.page.next_cursor) if self.page and self.page.next_cursor else None,
            csv_url=reverse("table-rows-csv", args=[self.table.pk]) + self._link(),
            search_max_length=services.SEARCH_MAX_LENGTH,
            **stale_backlogs(self.workspace),
            **kwargs,
        )
