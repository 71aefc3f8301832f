"""Where each system table keeps its rows. The app that owns a system type registers it in `ready()`,
so `tables` reads rows without importing the apps that write them.
"""

from dataclasses import dataclass, field
from typing import Callable

from django.db.models import QuerySet


@dataclass(frozen=True)
class RowSource:
    rows: Callable[[object], QuerySet]  # table -> its rows (any order; pagination orders them)
    ordering: tuple[str, ...]  # newest first, unique as a whole, e.g. ("sent_at", "id"), read descending
    filters: dict[str, str] = field(default_factory=dict)  # query parameter -> exact-match model field
    search_fields: tuple[str, ...] = ()  # fields the `q` parameter searches (case-insensitive contains)
    filter_choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # allowed values per parameter
    # workspace -> None: creates the workspace's missing tables of this type (idempotent), e.g. on a page visit
    ensure_tables: Callable[[object], object] | None = None


_sources: dict[str, RowSource] = {}


def register(system_type: str, source: RowSource) -> None:
    _sources[system_type] = source


def source_for(system_type: str) -> RowSource:
    try:
        return _sources[system_type]
    except KeyError:
        raise LookupError(f"No row source is registered for system type {system_type!r}.") from None
