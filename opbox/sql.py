"""Querysets compiled to SQL once per connection: a hot path runs the ORM's own SQL with fresh parameters.

Compiling a queryset (`as_sql`) costs more than running it for the small, indexed reads every API request
makes (the token check, a workspace's integrations). The ORM still writes the SQL, names the tables and
converts the values (JSON, timestamps), so a model change moves the compiled query with it.
"""

import threading
import weakref
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet


def _marker(slot: int) -> str:
    return f"\x00opbox-parameter-{slot}\x00"


def model_fields(model, names=None) -> tuple[str, ...]:
    """`names` (default: all) of the model's concrete fields, as attnames in the model's field order: the
    order `instance_from_row` expects."""
    return tuple(f.attname for f in model._meta.concrete_fields if names is None or f.attname in names)


def instance_from_row(model, names: tuple[str, ...], values):
    """A model instance from a row of `names`' values. Fields not read stay deferred: reading one later loads
    it, so a partial instance is never wrong."""
    return model.from_db(DEFAULT_DB_ALIAS, list(names), list(values))


class CompiledQuery:
    """`build(*parameters)` returns a `values_list()` queryset filtered by exact lookups on those parameters
    (or holding one as a raw SQL parameter); `rows(*values)` runs its SQL, compiled on first use per
    connection, with `values` in their places.
    """

    def __init__(self, build: Callable[..., QuerySet], parameters: int = 1):
        self._build = build
        self._parameters = parameters
        # Per database connection (a thread has its own): the SQL, where each parameter goes, the converters.
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _compile(self, queryset: QuerySet):
        compiler = queryset.query.get_compiler(DEFAULT_DB_ALIAS)
        sql, params = compiler.as_sql()
        markers = {_marker(slot): slot for slot in range(self._parameters)}
        slots = [(markers[param], None) if isinstance(param, str) and param in markers else (None, param) for param in params]
        if sum(slot is not None for slot, _ in slots) != self._parameters:
            raise ValueError("Each parameter must appear once, as an exact lookup's value.")
        converters = compiler.get_converters([expression for expression, _, _ in compiler.select])
        return compiler, sql, slots, converters

    def rows(self, *values) -> list[tuple]:
        connection = connections[DEFAULT_DB_ALIAS]
        compiled = self._compiled.get(connection)
        if compiled is None:
            queryset = self._build(*(_marker(slot) for slot in range(self._parameters)))
            with self._lock:
                compiled = self._compiled[connection] = self._compile(queryset)
        compiler, sql, slots, converters = compiled
        params = [values[slot] if slot is not None else constant for slot, constant in slots]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:
            rows = list(compiler.apply_converters(rows, converters))
        return rows
