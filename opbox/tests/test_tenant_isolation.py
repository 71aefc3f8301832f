"""List routes show and count only the caller's workspace, with another workspace's objects in place."""

import pytest

from email_logs.tests.factories import add_rows
from tables.models import Table

pytestmark = pytest.mark.django_db


@pytest.fixture
def own(make_integration):
    integration = make_integration("EMAIL_PROVIDER")
    table = Table.objects.get(integration=integration)
    return {"integration": integration.pk, "table": table.pk, "rows": {row.pk for row in add_rows(table, 2)}}


@pytest.fixture
def elsewhere(make_integration, other_workspace):
    """Another workspace with more of everything: each type we have, a disabled one, tables with rows."""
    for type_name in ("EMAIL_PROVIDER", "EMAIL_PROVIDER_ALT", "WEBHOOK"):
        make_integration(type_name, in_workspace=other_workspace)
    make_integration("EMAIL_PROVIDER", in_workspace=other_workspace, enabled=False)
    tables = Table.objects.filter(workspace=other_workspace, system_type="EMAIL_LOG")
    for table in tables:
        add_rows(table, 3)
    assert tables.count() == 2  # one per enabled email integration (the webhook has its Delivery Log)
    return other_workspace


def test_integration_list_and_stats_show_only_the_callers_workspace(admin_api, own, elsewhere):
    listed = admin_api.get("/api/integrations").json()
    stats = admin_api.get("/api/integrations/stats").json()

    assert [i["id"] for i in listed] == [own["integration"]]
    assert stats == {"total": 1, "enabled": 1, "disabled": 0, "byType": {"EMAIL_PROVIDER": 1}}


def test_table_list_and_rows_show_only_the_callers_workspace(admin_api, own, elsewhere):
    listed = admin_api.get("/api/tables").json()
    rows = admin_api.get(f"/api/tables/{own['table']}/rows").json()["results"]

    assert [t["id"] for t in listed] == [own["table"]]
    assert {row["id"] for row in rows} == own["rows"]


def test_initialising_email_log_tables_touches_only_the_callers_workspace(admin_api, own, elsewhere):
    Table.objects.filter(workspace=elsewhere).delete()  # so initialising the wrong workspace would make some

    response = admin_api.post("/api/tables/integration/init")

    assert response.status_code == 200
    assert [t["id"] for t in response.json()["tables"]] == [own["table"]]
    assert not Table.objects.filter(workspace=elsewhere).exists()
