"""The Delivery Log: a system table per receiving integration, its rows, filters and CSV through the tables
API, a row page that links back to the email, Redeliver (ADMIN/OWNER; MEMBER 403; another workspace 404) under
the same webhook-id, and the settings card's last delivery and failing count."""

import pytest

from deliveries.models import Delivery
from integrations.tests import services as svc
from tables.models import SystemType, Table
from workspaces.models import Role

from .conftest import email_row

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def unpaced_slack(settings):
    settings.DELIVERY_SLACK_REQUESTS_PER_SECOND = None  # pacing has its own tests


@pytest.fixture
def failed_delivery(receiver, workspace, record, mock):
    mock.add("POST", f"{svc.SLACK}/chat.postMessage", json={"ok": False, "error": "not_in_channel"})
    slack = receiver("SLACK")
    record(workspace, "email.failed", email_row(status="failed", error="Mailbox full"))
    return Delivery.objects.get(integration=slack)


def log_table(delivery) -> Table:
    return Table.objects.get(integration_id=delivery.integration_id, system_type=SystemType.DELIVERY_LOG)


def test_a_receiving_integration_has_its_delivery_log_with_the_columns_in_order(receiver):
    table = Table.objects.get(integration=receiver("WEBHOOK"), system_type=SystemType.DELIVERY_LOG)
    assert [column.name for column in table.columns.all()] == [
        "Created At", "Event", "Event ID", "Status", "Attempts", "Response", "Error", "Next Attempt At", "Email ID",
    ]  # fmt: skip
    assert not Table.objects.filter(integration__type="EMAIL_PROVIDER", system_type=SystemType.DELIVERY_LOG).exists()


def test_the_rows_api_filters_by_status_and_event_and_exports_csv(failed_delivery, member_api):
    table = log_table(failed_delivery)
    rows = member_api.get(f"/api/tables/{table.pk}/rows?status=failed&event=email.failed").json()["results"]
    assert [row["id"] for row in rows] == [failed_delivery.pk]
    assert rows[0]["values"]["Response"] == "not_in_channel" and rows[0]["values"]["Email ID"] == "cemail0000000000000000001"
    assert member_api.get(f"/api/tables/{table.pk}/rows?status=delivered").json()["results"] == []
    assert member_api.get(f"/api/tables/{table.pk}/rows?event=email.sent").json()["results"] == []
    csv = member_api.get(f"/api/tables/{table.pk}/rows.csv")
    text = b"".join(csv.streaming_content).decode()
    assert csv.status_code == 200 and f"email.failed,{failed_delivery.event_id},failed,1,not_in_channel," in text


def test_the_row_page_links_back_to_the_email_and_offers_redeliver_to_admins(failed_delivery, pages_as):
    url = f"/tables/{log_table(failed_delivery).pk}/deliveries/{failed_delivery.pk}/"
    admin_page = pages_as(Role.ADMIN).get(url).content.decode()
    assert 'href="/tables/ctable0000000000000000000/rows/cemail0000000000000000001/"' in admin_page
    assert "not_in_channel" in admin_page and ">Redeliver</button>" in admin_page
    member_page = pages_as(Role.MEMBER).get(url).content.decode()
    assert "Redeliver</button>" not in member_page


def test_an_admin_redelivers_under_the_same_webhook_id(failed_delivery, admin_api, mock, django_capture_on_commit_callbacks):
    mock.replace("POST", f"{svc.SLACK}/chat.postMessage", json={"ok": True, "channel": "C0123ALERTS", "ts": "1.2"})
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_api.post(f"/api/deliveries/{failed_delivery.pk}/redeliver")
    assert answer.status_code == 202, answer.content
    assert answer.json()["id"] == failed_delivery.pk
    failed_delivery.refresh_from_db()
    assert (failed_delivery.status, failed_delivery.attempts, failed_delivery.error) == ("delivered", 2, "")


def test_a_member_cannot_redeliver_and_another_workspace_gets_404(failed_delivery, member_api, other_admin_api, mock):
    assert member_api.post(f"/api/deliveries/{failed_delivery.pk}/redeliver").status_code == 403
    assert other_admin_api.post(f"/api/deliveries/{failed_delivery.pk}/redeliver").status_code == 404
    failed_delivery.refresh_from_db()
    assert (failed_delivery.status, failed_delivery.attempts) == ("failed", 1)
    assert len(mock.calls) == 1


def test_the_redeliver_button_is_for_admins_only(failed_delivery, pages_as, mock, django_capture_on_commit_callbacks):
    url = f"/tables/{log_table(failed_delivery).pk}/deliveries/{failed_delivery.pk}/redeliver/"
    assert pages_as(Role.MEMBER).post(url).status_code == 403
    mock.replace("POST", f"{svc.SLACK}/chat.postMessage", json={"ok": True, "channel": "C0123ALERTS", "ts": "1.2"})
    with django_capture_on_commit_callbacks(execute=True):
        assert pages_as(Role.OWNER).post(url).status_code == 302
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == "delivered"


def test_the_settings_card_shows_the_last_delivery_and_how_many_are_failing(failed_delivery, pages_as):
    page = pages_as(Role.MEMBER).get("/settings/integrations/").content.decode()
    assert "(failed); 1 failing" in page
    assert f'href="/tables/{log_table(failed_delivery).pk}/"' in page


def test_the_tables_page_lists_delivery_logs_on_its_integrations_tab(failed_delivery, pages_as):
    page = pages_as(Role.MEMBER).get("/tables/").content.decode()
    assert f'href="/tables/{log_table(failed_delivery).pk}/"' in page
