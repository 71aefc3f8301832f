"""Where each system table keeps its rows, and everything a view of them needs. The app that owns a
system type registers it in `ready()`, so `tables` (its API, its docs, its pages) reads rows without
importing the apps that write them.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet


@dataclass(frozen=True)
class RowFilter:
    """An exact-match filter a reader may apply: `?<parameter>=<one of choices>` ("" means all)."""

    parameter: str
    field: str  # the row model's field it matches
    label: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class RowSource:
    rows: Callable[[object], QuerySet]  # table -> its rows (any order; pagination orders them)
    ordering: tuple[str, ...]  # newest first, unique as a whole, e.g. ("sent_at", "id"), read descending
    filters: tuple[RowFilter, ...] = ()
    search_fields: tuple[str, ...] = ()  # fields the `q` parameter searches (case-insensitive contains)
    search_label: str = "Search"
    # The failed-row marker: a row whose `failure_field` holds `failure_value` failed, and
    # `reason_field` says why (pages mark it and show the reason beside it).
    failure_field: str = ""
    failure_value: str = ""
    reason_field: str = ""
    row_noun: str = "rows"  # plural: "No emails yet", "No emails match"
    empty_text: str = ""  # what the table will hold, for its empty state
    empty_admin_hint: str = ""  # for admins of a table kept by an integration: linked to its settings
    # workspace -> None: creates the workspace's missing tables of this type (idempotent), e.g. on a page visit
    ensure_tables: Callable[[object], object] | None = None
    # (table id, row id) -> the URL of the row's own page; None when rows have no page of their own.
    # The Tables page links each row's `link_field` cell (its first column when "") to it.
    row_url: Callable[[str, str], str] | None = None
    link_field: str = ""
    # workspace -> how many days rows are kept before they are deleted (None: forever); None when rows have no
    # retention policy. The Tables pages say it.
    retention_days: Callable[[object], int | None] | None = None

    def filter_named(self, parameter: str) -> RowFilter | None:
        return next((row_filter for row_filter in self.filters if row_filter.parameter == parameter), None)

    def url_of(self, table, row) -> str | None:
        """The URL of `row`'s own page, or None when this source's rows have none."""
        return self.row_url(table.pk, row.pk) if self.row_url else None

    def failure_of(self, row) -> str | None:
        """Why `row` failed ("" when no reason is recorded), or None when it did not fail."""
        if not self.failure_field or getattr(row, self.failure_field) != self.failure_value:
            return None
        return getattr(row, self.reason_field, "") if self.reason_field else ""


_sources: dict[str, RowSource] = {}


def register(system_type: str, source: RowSource) -> None:
    _sources[system_type] = source


def source_for(system_type: str) -> RowSource:
    try:
        return _sources[system_type]
    except KeyError:
        raise LookupError(f"No row source is registered for system type {system_type!r}.") from None


def registered_system_types() -> list[str]:
    """Every system type an app registered a row source for, in registration order."""
    return list(_sources)


def all_filters() -> dict[str, tuple[str, ...]]:
    """Every filter parameter of every registered source with its allowed values (for the API docs)."""
    merged: dict[str, tuple[str, ...]] = {}
    for source in _sources.values():
        for row_filter in source.filters:
            known = merged.get(row_filter.parameter, ())
            merged[row_filter.parameter] = known + tuple(c for c in row_filter.choices if c not in known)
    return merged


def all_search_labels() -> list[str]:
    return sorted({source.search_label for source in _sources.values()})
