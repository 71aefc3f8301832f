"""Data lifecycle (issue 15): the purge task's chain, and the PostgreSQL indexes erasure reads by.

Erasure finds an address exactly among the recipients of To, CC and BCC through `email_log_recipients`, a
GIN index on the array of every recipient lower-cased (the expression `email_logs.erasure.RECIPIENTS_SQL`
repeats): one small posting list per address, where a trigram search would read the huge lists of the
trigrams every address shares (".co", "exa"...). Mentions in Subject and Error are found through trigram
indexes on UPPER(col), the expression `icontains` emits (Subject has its own from 0002). Its events are
found by UPPER(recipient), as `iexact` compares. Built CONCURRENTLY, so a deploy onto a large log never
blocks sending (hence a non-atomic migration). SQLite has no equivalent and skips them.
"""

from django.db import migrations, models

TABLE = "email_logs_emaillogentry"
EVENT_TABLE = "email_logs_emailevent"
INDEXES = {
    "email_log_recipients": f"""ON {TABLE} USING gin (regexp_split_to_array(lower("to" || ',' || "cc" || ',' || "bcc"), '\\s*,\\s*'))""",
    "email_log_error_trgm": f'ON {TABLE} USING gin (UPPER("error"::text) gin_trgm_ops)',
    "email_event_recipient_upper": f'ON {EVENT_TABLE} (UPPER("recipient"::text))',
}


def create_lifecycle_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} {definition}")


def drop_lifecycle_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("email_logs", "0006_batched_delivery")]

    operations = [
        migrations.CreateModel(
            name="TaskChain",
            fields=[
                ("name", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("token", models.UUIDField()),
                ("next_run_at", models.DateTimeField()),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RunPython(create_lifecycle_indexes, drop_lifecycle_indexes),
    ]
