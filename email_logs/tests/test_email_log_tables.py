"""Email Log tables: one per active email integration, made by init, by the hook and by the migration."""

import threading
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

from email_logs.columns import EMAIL_LOG_COLUMNS
from email_logs.log_tables import ensure_email_log_table
from integrations import services as integration_services
from tables.models import Column, Table

pytestmark = pytest.mark.django_db

SEED_COLUMNS = [
    ("Sent At", "Date"), ("To", "Text"), ("From", "Text"), ("Subject", "Text"), ("Status", "Text"),
    ("Provider", "Text"), ("Message ID", "Text"), ("CC", "Text"), ("BCC", "Text"), ("Template ID", "Text"),
    ("Source", "Text"), ("Error", "Text"), ("Attachments", "Number"),
]  # fmt: skip


def test_creating_an_email_integration_creates_its_email_log(make_integration):
    integration = make_integration("EMAIL_PROVIDER")

    table = Table.objects.get(integration=integration)
    assert (table.name, table.system_type) == ("Email Log", "EMAIL_LOG")
    assert list(table.columns.order_by("position").values_list("name", "type")) == SEED_COLUMNS


def test_other_types_and_disabled_integrations_get_no_table(make_integration):
    make_integration("WEBHOOK")  # its table is a Delivery Log (deliveries/)
    make_integration("EMAIL_PROVIDER_ALT", enabled=False)

    assert not Table.objects.filter(system_type="EMAIL_LOG").exists()


def test_enabling_an_email_integration_creates_its_table(make_integration):
    integration = make_integration("EMAIL_PROVIDER_ALT", enabled=False)

    integration_services.update_integration(integration, enabled=True)

    assert Table.objects.filter(integration=integration).count() == 1


def test_disabling_or_deleting_keeps_the_table(make_integration):
    integration = make_integration("EMAIL_PROVIDER")
    table = Table.objects.get(integration=integration)

    integration_services.update_integration(integration, enabled=False)
    integration_services.delete_integration(integration)

    table.refresh_from_db()
    assert table.integration_id is None
    assert table.columns.count() == 13


def test_init_returns_a_table_per_active_email_integration_and_is_idempotent(admin_api, make_integration):
    a = make_integration("EMAIL_PROVIDER")
    b = make_integration("EMAIL_PROVIDER_ALT")
    make_integration("EMAIL_PROVIDER", enabled=False)
    Table.objects.filter(integration=b).delete()  # as if b predates the hook

    first = admin_api.post("/api/tables/integration/init")
    second = admin_api.post("/api/tables/integration/init/")

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    body = first.json()
    assert body["success"] is True
    assert [t["name"] for t in body["tables"]] == ["Email Log", "Email Log"]
    assert {t["systemType"] for t in body["tables"]} == {"EMAIL_LOG"}
    assert set(Table.objects.values_list("integration_id", flat=True)) == {a.id, b.id}
    assert Column.objects.count() == 26


def test_init_needs_admin(member_api, anon_api):
    assert member_api.post("/api/tables/integration/init").status_code == 403
    assert anon_api.post("/api/tables/integration/init").status_code == 401


def test_init_query_count_does_not_grow_with_existing_tables(admin_api, make_integration, django_assert_max_num_queries):
    for _ in range(3):
        make_integration("EMAIL_PROVIDER")
    admin_api.post("/api/tables/integration/init")
    with django_assert_max_num_queries(8) as few:
        admin_api.post("/api/tables/integration/init")
    for _ in range(20):
        make_integration("EMAIL_PROVIDER")
    with django_assert_max_num_queries(len(few)):
        admin_api.post("/api/tables/integration/init")


def test_ensure_is_idempotent(make_integration):
    integration = make_integration("EMAIL_PROVIDER")

    assert ensure_email_log_table(integration) == ensure_email_log_table(integration)
    assert Table.objects.count() == 1


def migrate_to_the_latest_schema():
    executor = MigrationExecutor(connection)  # a fresh one: an older loader still plans from before
    executor.migrate(executor.loader.graph.leaf_nodes())


def pending_migrations():
    executor = MigrationExecutor(connection)
    return executor.migration_plan(executor.loader.graph.leaf_nodes())


@contextmanager
def schema_rolled_back_to(migration):
    """The schema as of `migration`, and the latest one again on the way out whatever happened inside: if the
    test stopped half-way, its rows are flushed (so no migration can choke on them) and the rest applied.
    The tests after this one never find a half-migrated database."""
    MigrationExecutor(connection).migrate([migration])
    try:
        yield
    finally:
        if pending_migrations():
            call_command("flush", interactive=False, verbosity=0)
            migrate_to_the_latest_schema()


@pytest.mark.django_db(transaction=True)
def test_data_migration_creates_tables_for_existing_integrations(make_integration):
    """Add integrations, roll email_logs back before the data migration, migrate forward. (They are made first,
    with today's code: rolling email_logs back also rolls back the integrations migrations that follow it.)"""
    enabled = make_integration("EMAIL_PROVIDER")
    make_integration("EMAIL_PROVIDER_ALT", enabled=False)
    with schema_rolled_back_to(("email_logs", "0002_search_indexes")):
        Table.objects.all().delete()  # the hook ran with current code; the migration must do it alone

        migrate_to_the_latest_schema()

    assert not pending_migrations()
    assert list(Table.objects.values_list("integration_id", flat=True)) == [enabled.id]
    table = Table.objects.get()
    assert [(c.name, c.type, c.field) for c in table.columns.order_by("position")] == list(EMAIL_LOG_COLUMNS)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_inits_make_one_table_per_integration(workspace, make_integration, api_as):
    from workspaces.models import Role

    integrations = [make_integration("EMAIL_PROVIDER") for _ in range(3)]
    Table.objects.all().delete()
    clients = [api_as(Role.ADMIN) for _ in range(20)]
    barrier = threading.Barrier(len(clients))
    statuses = []

    def init(client):
        try:
            barrier.wait()
            statuses.append(client.post("/api/tables/integration/init").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=init, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 20
    assert sorted(Table.objects.values_list("integration_id", flat=True)) == sorted(i.id for i in integrations)
    assert Column.objects.count() == 3 * 13
