"""Two bulk statements the ORM does not offer, for a webhook batch of a thousand events in one statement each.

- an insert that skips rows conflicting with a unique constraint *and* says which rows it inserted
  (`bulk_create(ignore_conflicts=True)` cannot: it returns nothing on conflict-ignoring inserts);
- an update of different values per row.

On PostgreSQL both pass all the rows as one JSON parameter read back with `json_populate_recordset` (the
table's own row type gives each column its type): one parameter whatever the number of rows, cheap to
build and to send. Elsewhere an INSERT ... VALUES in chunks, and bulk_update.
"""

import json

from django.db import connection

CHUNK = 500  # rows per statement where every value is its own parameter (SQLite)


def _columns(model, names):
    meta = model._meta
    return [meta.get_field(name) for name in names]


def insert_ignoring_conflicts(model, names: list[str], rows: list[tuple], *, conflict: list[str], returning: str) -> list:
    """Insert `rows` (tuples of the `names` fields' values) into `model`'s table, skipping those that conflict
    on the unique `conflict` fields (already stored, or stored by a concurrent transaction that commits);
    returns the `returning` field's value of each row inserted now.
    """
    if not rows:
        return []
    quote, fields = connection.ops.quote_name, _columns(model, names)
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    on_conflict = f"ON CONFLICT ({', '.join(quote(f.column) for f in _columns(model, conflict))}) DO NOTHING"
    back = f"RETURNING {quote(_columns(model, [returning])[0].column)}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            records = _records(fields, rows)
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM json_populate_recordset(NULL::{table}, %s) {on_conflict} {back}", [records])
            return [value for (value,) in cursor.fetchall()]
        adapted = [tuple(_adapt(field, value) for field, value in zip(fields, row, strict=True)) for row in rows]
        inserted = []
        for start in range(0, len(adapted), CHUNK):
            chunk = adapted[start : start + CHUNK]
            values = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(chunk))
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values} {on_conflict} {back}", [v for row in chunk for v in row])
            inserted += [value for (value,) in cursor.fetchall()]
        return inserted


def update_each(model, names: list[str], changes: dict) -> None:
    """Set the `names` fields of each row `changes` maps (primary key -> tuple of values), in one statement.

    On PostgreSQL the rows are locked in primary-key order first (whatever order the plan would update them
    in), the order every writer of rows keeps, so two writers never wait on each other in a cycle.
    """
    if not changes:
        return
    if connection.vendor != "postgresql":
        objs = [model(pk=pk, **dict(zip(names, values, strict=True))) for pk, values in changes.items()]
        model.objects.bulk_update(objs, names)
        return
    quote, fields = connection.ops.quote_name, _columns(model, [model._meta.pk.name, *names])
    table, key = quote(model._meta.db_table), quote(fields[0].column)
    assignments = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in fields[1:])
    records = _records(fields, [(pk, *values) for pk, values in changes.items()])
    locked_in_order = (
        f"SELECT v.* FROM json_populate_recordset(NULL::{table}, %s) AS v JOIN {table} AS locked ON locked.{key} = v.{key} "
        f"ORDER BY locked.{key} FOR NO KEY UPDATE OF locked"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {assignments} FROM ({locked_in_order}) AS v WHERE {table}.{key} = v.{key}", [records])


def _records(fields, rows) -> str:
    """Rows as a JSON array of objects keyed by column (datetimes in ISO form, which PostgreSQL reads)."""
    columns = [field.column for field in fields]
    return json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=lambda value: value.isoformat())


def _adapt(field, value):
    """A value as the backend stores it (datetimes, on SQLite, as text)."""
    return field.get_db_prep_save(value, connection)
