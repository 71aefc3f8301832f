"""Selectors for tables and their rows: keyset pagination, filters, search, CSV streaming.

Pages are found by position, never by OFFSET or COUNT, so page 1,000 costs what page 1 costs.
"""

import base64
import binascii
import csv
import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import F, Prefetch, Q
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan

from opbox.api import iso_timestamp
from opbox.sql import CompiledQuery

from .models import Column, ColumnType, Table
from .registry import all_filters, registered_system_types, source_for

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
CSV_CHUNK_SIZE = 2000
SEARCH_WINDOW = 10_000  # newest rows a search walks in index order before asking the search indexes
EXACT_COUNT_LIMIT = 10_000  # above this many rows a table's size is estimated, not counted
SEARCH_MAX_LENGTH = 200


def tables_for(workspace, system_type: str | None = None):
    tables = Table.objects.filter(workspace=workspace).select_related("integration").order_by("created_at", "id")
    return tables.filter(system_type=system_type) if system_type else tables


def table_in(workspace, table_id: str) -> Table:
    """A table of `workspace` with its columns; another workspace's id raises DoesNotExist."""
    columns = Prefetch("columns", queryset=Column.objects.order_by("position"))
    return Table.objects.select_related("integration").prefetch_related(columns).get(workspace=workspace, pk=table_id)


_TABLE_FIELDS = tuple(field.attname for field in Table._meta.concrete_fields)
_COLUMN_FIELDS = tuple(field.attname for field in Column._meta.concrete_fields)
# The rows API's read of its table with its columns (a left join: a table may have none), compiled
# once per process (opbox.sql).
_TABLE_QUERY = CompiledQuery(
    lambda workspace_id, pk: Table.objects.filter(workspace_id=workspace_id, pk=pk)
    .order_by("columns__position")
    .values_list(*_TABLE_FIELDS, *(f"columns__{name}" for name in _COLUMN_FIELDS)),
    parameters=2,
)


def table_with_columns(workspace, table_id: str) -> tuple[Table, list[Column]]:
    """A table of `workspace` (without its integration) and its columns in order, in one query;
    another workspace's id raises DoesNotExist."""
    rows = _TABLE_QUERY.rows(workspace.pk, str(table_id))
    if not rows:
        raise Table.DoesNotExist(f"No table {table_id!r} in this workspace.")
    split = len(_TABLE_FIELDS)
    table = Table.from_db(DEFAULT_DB_ALIAS, list(_TABLE_FIELDS), list(rows[0][:split]))
    columns = [
        Column.from_db(DEFAULT_DB_ALIAS, list(_COLUMN_FIELDS), list(row[split:])) for row in rows if row[split] is not None
    ]
    return table, columns


def ensure_log_table(integration, system_type: str, name: str, columns) -> Table:
    """The integration's system table of `system_type` (its Email, Document or Delivery Log), created with
    `columns` ((name, type, field) in order) if missing. Safe when many callers race: the unique constraint
    on (integration, system type) decides, not a check-then-insert."""
    existing = Table.objects.filter(integration=integration, system_type=system_type).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            table = Table.objects.create(workspace_id=integration.workspace_id, name=name, system_type=system_type, integration=integration)
            Column.objects.bulk_create(
                Column(table=table, name=column, type=kind, position=position, field=field)
                for position, (column, kind, field) in enumerate(columns)
            )
            return table
    except IntegrityError:  # created by a concurrent caller between our read and our insert
        return Table.objects.get(integration=integration, system_type=system_type)


def ensure_log_tables(integrations, system_type: str, name: str, columns) -> list[Table]:
    """`ensure_log_table` for each of `integrations`, oldest table first: one query when they all exist."""
    integrations = list(integrations)
    tables = {table.integration_id: table for table in Table.objects.filter(integration__in=integrations, system_type=system_type)}
    for integration in integrations:
        if integration.pk not in tables:
            tables[integration.pk] = ensure_log_table(integration, system_type, name, columns)
    return sorted(tables.values(), key=lambda table: (table.created_at, table.pk))


def ensure_system_tables(workspace, system_type: str) -> None:
    """Create the workspace's missing tables of `system_type` (the app that owns the type knows which)."""
    ensure_tables = source_for(system_type).ensure_tables
    if ensure_tables is not None:
        ensure_tables(workspace)


def ensure_all_system_tables(workspace) -> list[Table]:
    """Every system table the workspace's integrations keep (Email Logs, Document Logs...), created if missing."""
    for system_type in registered_system_types():
        ensure_system_tables(workspace, system_type)
    return list(tables_for(workspace).exclude(system_type="").filter(integration__isnull=False, integration__enabled=True))


@dataclass(frozen=True)
class TableSummary:
    table: Table
    row_count: int
    row_count_is_estimate: bool
    newest_row_at: datetime | None


def table_summaries(tables) -> list[TableSummary]:
    """Size and newest row of each table, cheap however large: a capped count, then an estimate."""
    summaries = []
    for table in tables:
        source = source_for(table.system_type)
        rows = source.rows(table)
        newest = source.ordering[0]
        newest_row_at = rows.order_by(F(newest).desc()).values_list(newest, flat=True).first()
        count = rows[: EXACT_COUNT_LIMIT + 1].count() if newest_row_at is not None else 0
        estimated = count > EXACT_COUNT_LIMIT and connections[rows.db].vendor == "postgresql"
        if estimated:
            count = max(_planner_row_estimate(rows), count)
        elif count > EXACT_COUNT_LIMIT:
            count = rows.count()  # SQLite keeps no statistics to estimate from; its tables are small
        summaries.append(TableSummary(table, count, estimated, newest_row_at))
    return summaries


def _planner_row_estimate(rows) -> int:
    """PostgreSQL's own estimate of how many rows `rows` has (from its statistics; no scan)."""
    plan = json.loads(rows.explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


# Rows --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowQuery:
    """What a reader asked for: filters by parameter name and a search text."""

    filters: dict[str, str]
    search: str = ""


@dataclass
class RowPage:
    rows: list
    next_cursor: str | None
    previous_cursor: str | None


def _encode_cursor(direction: str, position: tuple) -> str:
    # Full microseconds: a position rounded to the millisecond would repeat or skip rows at the page edge.
    values = [v.isoformat() if isinstance(v, datetime) else v for v in position]
    raw = json.dumps({"d": direction, "p": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, ordering_fields: list) -> tuple[str, tuple]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        direction, values = data["d"], data["p"]
        if direction not in ("next", "prev") or len(values) != len(ordering_fields):
            raise ValueError
        position = tuple(
            field.to_python(value) if field.get_internal_type() == "DateTimeField" else value
            for field, value in zip(ordering_fields, values, strict=True)
        )
    except (ValueError, KeyError, TypeError, binascii.Error, ValidationError):
        raise ValidationError({"cursor": ["Invalid cursor."]}) from None
    return direction, position


def filtered_rows(table: Table, query: RowQuery):
    """The table's rows with the reader's filters and search applied (unordered)."""
    rows = _rows_with_filters(table, query)
    search = _search_condition(source_for(table.system_type), query)
    return rows if search is None else rows.filter(search)


def _search_condition(source, query: RowQuery) -> Q | None:
    if not query.search:
        return None
    match = Q()
    for name in source.search_fields:
        match |= Q(**{f"{name}__icontains": query.search})
    return match


def _rows_with_filters(table: Table, query: RowQuery):
    source = source_for(table.system_type)
    rows = source.rows(table)
    for parameter, value in query.filters.items():
        row_filter = source.filter_named(parameter)
        if not value or row_filter is None:
            continue
        if value not in row_filter.choices:
            raise ValidationError({parameter: [f"Unknown value. Allowed: {', '.join(row_filter.choices)}."]})
        rows = rows.filter(**{row_filter.field: value})
    return rows


def row_query(table: Table, params) -> RowQuery:
    """The reader's filters and search from query parameters, as the table's row source defines them."""
    source = source_for(table.system_type)
    filters = {row_filter.parameter: params.get(row_filter.parameter, "").strip() for row_filter in source.filters}
    for row_filter in source.filters:  # checked here, before any answer (a CSV stream, say) has started
        if filters[row_filter.parameter] and filters[row_filter.parameter] not in row_filter.choices:
            allowed = ", ".join(row_filter.choices)
            raise ValidationError({row_filter.parameter: [f"Unknown value. Allowed: {allowed}."]})
    for parameter, choices in all_filters().items():  # another kind of table's filter: documented, so still checked
        value = params.get(parameter, "").strip()
        if parameter not in filters and value and value not in choices:
            raise ValidationError({parameter: [f"Unknown value. Allowed: {', '.join(choices)}."]})
    return RowQuery(filters=filters, search=params.get("q", "").strip()[:SEARCH_MAX_LENGTH])


@contextmanager
def _planner(using: str, setting: str):
    """Run the next queries with one PostgreSQL planner method switched off (SET LOCAL, this transaction)."""
    with transaction.atomic(using=using):
        if connections[using].vendor == "postgresql":
            with connections[using].cursor() as cursor:
                cursor.execute(f"SET LOCAL {setting} = off")
        yield


def _newest_matching(rows, search: Q | None, ordering: tuple[str, ...], limit: int) -> list:
    """The newest `limit` rows of `rows` that match `search`, fast whether matches are common or rare.

    Walking the newest-first index finds common matches at once but crawls through millions of rows
    for a term only old rows contain; the trigram indexes find rare matches at once but sift through
    millions of candidates for a common term. So: walk the newest SEARCH_WINDOW rows first, and only
    if they hold too few matches, ask the search indexes for the older ones.
    """
    newest_first = [F(name).desc() for name in ordering]
    if search is None:
        return list(rows.order_by(*newest_first)[:limit])
    # Split by the first ordering field alone: the planner estimates a plain range well (a row
    # comparison it guesses at a third of the table, and then walks the trigram index instead).
    newest, *_ = ordering
    boundary = list(rows.order_by(*newest_first).values_list(newest, flat=True)[SEARCH_WINDOW - 1 : SEARCH_WINDOW])
    if not boundary:  # fewer rows than the window: one bounded walk finds everything
        return list(rows.filter(search).order_by(*newest_first)[:limit])
    # Within the window, walk the index in order (a trigram bitmap would sift every row with "example").
    with _planner(rows.db, "enable_bitmapscan"):
        found = list(rows.filter(search, **{f"{newest}__gte": boundary[0]}).order_by(*newest_first)[:limit])
    if len(found) < limit:
        # Beyond it, the trigram indexes (walking the index could crawl through millions of rows).
        with _planner(rows.db, "enable_indexscan"):
            older = rows.filter(search, **{f"{newest}__lt": boundary[0]}).order_by(*newest_first)
            found += list(older[: limit - len(found)])
    return found


def _position(row, source) -> tuple:
    return tuple(_field(row, name) for name in source.ordering)


@lru_cache(maxsize=256)
def _newest_page_query(system_type: str, filter_fields: tuple[str, ...], fields: tuple[str, ...], limit: int) -> CompiledQuery:
    """The newest `limit` rows of a table under exact filters, compiled once per shape (opbox.sql): the
    rows API's most common read, its first page, without building the queryset again on every request."""
    source = source_for(system_type)

    def build(table_id, *values):
        rows = source.rows(Table(pk=table_id)).filter(**dict(zip(filter_fields, values, strict=True)))
        return rows.order_by(*[F(name).desc() for name in source.ordering]).values_list(*fields)[:limit]

    return CompiledQuery(build, parameters=1 + len(filter_fields))


def _newest_page(table: Table, query: RowQuery, fields: tuple[str, ...], limit: int) -> list[dict]:
    source = source_for(table.system_type)
    filters = [(source.filter_named(name), value) for name, value in query.filters.items() if value]
    active = {row_filter.field: value for row_filter, value in filters if row_filter is not None}
    compiled = _newest_page_query(table.system_type, tuple(active), fields, limit)
    return [dict(zip(fields, row, strict=True)) for row in compiled.rows(table.pk, *active.values())]


def row_page(
    table: Table, query: RowQuery, cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE, *, fields=None
) -> RowPage:
    """One page of rows, newest first, from a cursor (None: the newest page).

    Rows are model instances, or with `fields` plain dicts of those fields (and the ordering's): what an
    API answer needs, without building a model instance per row.
    """
    source = source_for(table.system_type)
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    if not cursor and not query.search and fields is not None:  # the newest page, the one most asked for
        found = _newest_page(table, query, tuple(dict.fromkeys([*fields, *source.ordering])), page_size + 1)
        following = _encode_cursor("next", _position(found[page_size - 1], source)) if len(found) > page_size else None
        return RowPage(rows=found[:page_size], next_cursor=following, previous_cursor=None)
    model = source.rows(table).model
    ordering_fields = [model._meta.get_field(name) for name in source.ordering]
    key = Tuple(*(F(name) for name in source.ordering))
    oldest_first = [F(name).asc() for name in source.ordering]

    rows = _rows_with_filters(table, query)
    if fields is not None:
        rows = rows.values(*dict.fromkeys([*fields, *source.ordering]))
    search = _search_condition(source, query)
    direction, position = ("next", None) if not cursor else _decode_cursor(cursor, ordering_fields)
    if direction == "next":
        if position is not None:
            rows = rows.filter(TupleLessThan(key, position))
        found = _newest_matching(rows, search, source.ordering, page_size + 1)
        has_more_older, has_newer = len(found) > page_size, position is not None
        found = found[:page_size]
    else:
        if search is not None:
            rows = rows.filter(search)
        found = list(rows.filter(TupleGreaterThan(key, position)).order_by(*oldest_first)[: page_size + 1])
        has_newer, has_more_older = len(found) > page_size, True
        found = list(reversed(found[:page_size]))

    def position_of(row):
        return _position(row, source)

    return RowPage(
        rows=found,
        next_cursor=_encode_cursor("next", position_of(found[-1])) if found and has_more_older else None,
        previous_cursor=_encode_cursor("prev", position_of(found[0])) if found and has_newer else None,
    )


def _field(row, name: str):
    """A field of a row, whether a model instance or a `values()` dict."""
    return row[name] if isinstance(row, dict) else getattr(row, name)


# A cell in the JSON shape, by column type: ISO timestamps, numbers (0 when empty), and "" for empty text.
_CELL = {
    ColumnType.DATE: iso_timestamp,
    ColumnType.NUMBER: lambda value: 0 if value is None else value,
    ColumnType.TEXT: lambda value: "" if value is None else str(value),
}


def cell_value(column: Column, row):
    """A row's value for a column in the JSON shape: ISO timestamps, numbers, and "" for empty text."""
    return _CELL.get(column.type, _CELL[ColumnType.TEXT])(_field(row, column.field))


def row_values(columns, row) -> dict:
    return {column.name: cell_value(column, row) for column in columns}


def row_fields(columns) -> list[str]:
    """The fields `rows_data` reads: what `row_page(fields=...)` should fetch."""
    return ["id", "created_at", *(column.field for column in columns)]


def rows_data(columns, rows: list[dict]) -> list[dict]:
    """RowSerializer's shape (`{"id", "createdAt", "values"}`, as `row_values` fills it) for `values()` rows,
    with each column's formatting looked up once per page rather than once per cell."""
    cells = [(column.name, column.field, _CELL.get(column.type, _CELL[ColumnType.TEXT])) for column in columns]
    return [
        {"id": row["id"], "createdAt": iso_timestamp(row["created_at"]), "values": {name: cell(row[field]) for name, field, cell in cells}}
        for row in rows
    ]


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value, kind):
    if kind == ColumnType.DATE:
        return iso_timestamp(value)
    if value is None:
        return ""
    # A subject like "=HYPERLINK(...)" must stay text when the export is opened in a spreadsheet.
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, value):
        return value


def csv_lines(table: Table, query: RowQuery):
    """The table's rows (newest first, filters applied) as CSV lines, read in chunks: memory stays flat."""
    columns = list(table.columns.all())
    source = source_for(table.system_type)
    writer = csv.writer(_Echo())
    yield writer.writerow([column.name for column in columns])
    rows = filtered_rows(table, query).order_by(*[F(name).desc() for name in source.ordering])
    fields = [column.field for column in columns]
    kinds = [column.type for column in columns]
    for values in rows.values_list(*fields).iterator(chunk_size=CSV_CHUNK_SIZE):
        yield writer.writerow([_csv_cell(value, kind) for value, kind in zip(values, kinds, strict=True)])
