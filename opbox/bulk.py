"""Bulk statements the ORM does not offer, for a webhook batch of a thousand events in one statement each, and
for a send's rows in one round trip.

- an insert that skips rows conflicting with a unique constraint *and* says which rows it inserted
  (`bulk_create(ignore_conflicts=True)` cannot: it returns nothing on conflict-ignoring inserts);
- inserts into several tables in one statement (`bulk_create` makes one statement, and round trip, each);
- an update of different values per row.

On PostgreSQL they pass all the rows as one JSON parameter read back with `json_populate_recordset` (the
table's own row type gives each column its type): one parameter whatever the number of rows, cheap to
build and to send. Elsewhere an INSERT ... VALUES in chunks, and bulk_update.
"""

import json
import uuid

from django.db import connection, transaction

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


def insert_together(*groups: tuple) -> None:
    """Insert each group's `(model, instances)`, in order, in one statement on PostgreSQL: a chain of
    data-modifying CTEs, each table's rows one JSON parameter. One statement is atomic on its own, so a
    caller in autocommit needs no transaction around it (no BEGIN and COMMIT round trips), and foreign keys
    between the groups hold at its end. Elsewhere, one `bulk_create` per group in one transaction.

    Instances get what the ORM's insert would give them first (`pre_save`: defaults already set, auto
    timestamps), and must carry their primary keys (this project's ids are made in Python).
    """
    groups = [(model, list(instances)) for model, instances in groups if instances]
    if connection.vendor != "postgresql":
        with transaction.atomic():
            for model, instances in groups:
                model.objects.bulk_create(instances)
        return
    quote, statements, parameters = connection.ops.quote_name, [], []
    for model, instances in groups:
        fields = model._meta.concrete_fields
        table = quote(model._meta.db_table)
        columns = ", ".join(quote(field.column) for field in fields)
        rows = [tuple(_json_value(field, field.pre_save(instance, True)) for field in fields) for instance in instances]
        statements.append(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM json_populate_recordset(NULL::{table}, %s)")
        parameters.append(_records(fields, rows))
    *first, last = statements
    chained = ", ".join(f"insert_{n} AS ({statement})" for n, statement in enumerate(first))
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {chained} {last}" if chained else last, parameters)
    for _, instances in groups:
        for instance in instances:
            instance._state.adding, instance._state.db = False, connection.alias


def _json_value(field, value):
    """A field's value as json_populate_recordset reads it into the column (a JSON column keeps its structure)."""
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    return field.get_prep_value(value)


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
