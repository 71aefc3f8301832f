"""Give every enabled email integration that exists now its Email Log table (later ones get it from the
post_save hook). Uses the historical models and the plain column list, never the services."""

from django.db import IntegrityError, migrations, transaction

from email_logs.columns import EMAIL_LOG_COLUMNS, EMAIL_LOG_TABLE_NAME

EMAIL_TYPES = ("EMAIL_PROVIDER", "EMAIL_PROVIDER_ALT")


def create_missing_tables(apps, schema_editor):
    Integration = apps.get_model("integrations", "Integration")
    Table = apps.get_model("tables", "Table")
    Column = apps.get_model("tables", "Column")
    db = schema_editor.connection.alias
    with_table = Table.objects.using(db).filter(system_type="EMAIL_LOG", integration__isnull=False)
    missing = (
        Integration.objects.using(db)
        .filter(type__in=EMAIL_TYPES, enabled=True)
        .exclude(pk__in=with_table.values("integration_id"))
        .only("id", "workspace_id")
    )
    for integration in missing.iterator():
        try:
            with transaction.atomic(using=db):
                table = Table.objects.using(db).create(
                    workspace_id=integration.workspace_id,
                    name=EMAIL_LOG_TABLE_NAME,
                    system_type="EMAIL_LOG",
                    integration_id=integration.pk,
                )
                Column.objects.using(db).bulk_create(
                    Column(table=table, name=name, type=kind, position=position, field=attribute)
                    for position, (name, kind, attribute) in enumerate(EMAIL_LOG_COLUMNS)
                )
        except IntegrityError:
            pass  # created concurrently (an init request during the deploy): the constraint kept it single


class Migration(migrations.Migration):
    dependencies = [("email_logs", "0002_search_indexes"), ("tables", "0001_initial"), ("integrations", "0001_initial")]
    operations = [migrations.RunPython(create_missing_tables, migrations.RunPython.noop)]
