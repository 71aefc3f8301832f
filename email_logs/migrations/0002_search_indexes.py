"""Trigram indexes for the To/Subject search on PostgreSQL (SQLite has no equivalent and skips this).

The indexed expression is the one Django's `icontains` emits, UPPER("col"::text), so the planner uses it.
"""

from django.db import migrations

TABLE = "email_logs_emaillogentry"
INDEXES = {"email_log_to_trgm": "to", "email_log_subject_trgm": "subject"}


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS {name} ON {TABLE} USING gin (UPPER("{column}"::text) gin_trgm_ops)')


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("email_logs", "0001_initial")]
    operations = [migrations.RunPython(create_search_indexes, drop_search_indexes)]
