"""An email's own view: GET /api/emails/:id and the page /tables/<table>/rows/<row>/, for any member of
its workspace and nobody else."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from email_logs.models import EmailEvent, EmailLogEntry, EmailStatus, EventType, OutboundEmail
from email_logs.tests.factories import add_rows
from tables.models import Table
from workspaces.models import Role

from .conftest import resend_accepts

pytestmark = pytest.mark.django_db

ROW_COLUMNS = [
    "Sent At", "To", "From", "Subject", "Status", "Provider", "Message ID",
    "CC", "BCC", "Template ID", "Source", "Error", "Attachments",
]  # fmt: skip


@pytest.fixture
def table(site_provider_a):
    return Table.objects.get(integration=site_provider_a)


@pytest.fixture
def email(table, site_provider_a):
    (entry,) = add_rows(table, 1, to="ada@example.com", subject="Engagement letter")
    entry.attempts = 2
    entry.save(update_fields=["attempts"])
    return entry


def add_events(entry, integration, *kinds, start=None):
    """Events one minute apart from `start`, in the order given; returns them."""
    start = start or timezone.now() - timedelta(hours=1)
    return EmailEvent.objects.bulk_create(
        EmailEvent(
            entry=entry,
            integration=integration,
            provider_event_id=f"evt-{entry.pk}-{i}-{kind}",
            type=kind,
            recipient=recipient,
            occurred_at=start + timedelta(minutes=i),
            detail=detail,
        )
        for i, (kind, recipient, detail) in enumerate(kinds)
    )


def test_member_reads_an_email_with_its_events_oldest_first(member_api, email, site_provider_a):
    start = timezone.now() - timedelta(hours=1)
    # Stored out of order: the answer sorts them by when they happened.
    add_events(email, site_provider_a, (EventType.DELIVERED, "ada@example.com", ""), start=start + timedelta(minutes=5))
    add_events(email, site_provider_a, (EventType.ACCEPTED, "", ""), start=start)

    response = member_api.get(f"/api/emails/{email.pk}")

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["id", "createdAt", "values", "tableId", "attempts", "events"]
    assert body["id"] == email.pk and body["tableId"] == email.table_id and body["attempts"] == 2
    assert list(body["values"]) == ROW_COLUMNS
    assert body["values"]["To"] == "ada@example.com" and body["values"]["Subject"] == "Engagement letter"
    assert [event["type"] for event in body["events"]] == ["accepted", "delivered"]
    assert body["events"][1] == {
        "type": "delivered",
        "recipient": "ada@example.com",
        "occurredAt": body["events"][1]["occurredAt"],
        "detail": "",
    }
    assert body["events"][0]["occurredAt"].endswith("Z")


def test_another_workspaces_email_and_an_unknown_id_are_404(api_as, other_workspace, email):
    outsider = api_as(Role.OWNER, other_workspace)

    assert outsider.get(f"/api/emails/{email.pk}").status_code == 404
    assert outsider.get("/api/emails/cdoesnotexist000000000000").status_code == 404


def test_reading_an_email_costs_the_same_queries_with_one_event_or_fifty(member_api, table, site_provider_a):
    few, many = add_rows(table, 2)
    add_events(few, site_provider_a, (EventType.ACCEPTED, "", ""))
    add_events(many, site_provider_a, *[(EventType.OPENED, "client@example.com", "")] * 50)

    def queries_for(entry):
        with CaptureQueriesContext(connection) as captured:
            assert len(member_api.get(f"/api/emails/{entry.pk}").json()["events"]) in (1, 50)
        return len(captured)

    member_api.get(f"/api/emails/{few.pk}")  # the token's first use is recorded once; not part of the read
    assert queries_for(few) == queries_for(many)


def test_a_queued_send_names_its_email_in_location_and_counts_outbox_attempts(member_api, site_provider_a):
    # Without a real commit the send stays queued (it would go out on commit), as on a busy worker.
    response = member_api.post("/api/emails", {"to": "ada@example.com", "subject": "Hi", "text": "Hello"}, format="json")

    assert response.status_code == 202
    email_id = response.json()["id"]
    assert response["Location"] == f"http://testserver/api/emails/{email_id}"
    OutboundEmail.objects.filter(pk=email_id).update(attempts=1)  # a worker's first try, not yet settled
    detail = member_api.get(response["Location"]).json()
    assert detail["values"]["Status"] == "queued" and detail["attempts"] == 1 and detail["events"] == []


@pytest.mark.django_db(transaction=True)
def test_a_delivered_send_names_its_email_in_location_too(member_api, site_provider_a, provider):
    resend_accepts(provider, "msg-location")

    response = member_api.post("/api/emails", {"to": "ada@example.com", "subject": "Hi", "text": "Hello"}, format="json")

    assert response.status_code == 201
    detail = member_api.get(response["Location"]).json()
    assert detail["values"]["Message ID"] == "msg-location" and detail["attempts"] == 1


# The page ------------------------------------------------------------------------------------------


def test_the_page_shows_the_values_the_timeline_and_why_it_failed(pages_as, table, site_provider_a):
    (entry,) = add_rows(
        table,
        1,
        to="ada@example.com",
        status=EmailStatus.FAILED,
        error="Bounced: ada@example.com - 550 5.1.1 mailbox unavailable",
    )
    add_events(
        entry,
        site_provider_a,
        (EventType.ACCEPTED, "", ""),
        (EventType.BOUNCED, "ada@example.com", "bounce: 550 5.1.1 mailbox unavailable"),
    )

    response = pages_as(Role.MEMBER).get(f"/tables/{table.pk}/rows/{entry.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    for column in ROW_COLUMNS:
        assert f"<dt>{column}</dt>" in page
    assert "Why it failed" in page and "550 5.1.1 mailbox unavailable" in page
    assert page.index("accepted</span>") < page.index("bounced</span>")  # oldest first


def test_the_page_of_a_delivered_email_says_no_events_yet(pages_as, table, email):
    page = pages_as(Role.MEMBER).get(f"/tables/{table.pk}/rows/{email.pk}/").content.decode()

    assert "Why it failed" not in page
    assert "No delivery events yet" in page


def test_the_page_is_404_for_another_workspace_and_for_a_row_of_another_table(
    pages_as, other_workspace, table, email, make_integration
):
    assert pages_as(Role.OWNER, other_workspace).get(f"/tables/{table.pk}/rows/{email.pk}/").status_code == 404
    other_table = Table.objects.get(integration=make_integration("EMAIL_PROVIDER_ALT"))
    assert pages_as(Role.OWNER).get(f"/tables/{other_table.pk}/rows/{email.pk}/").status_code == 404


def test_every_row_of_the_email_log_links_to_its_page(pages_as, table):
    rows = add_rows(table, 3)

    page = pages_as(Role.MEMBER).get(f"/tables/{table.pk}/").content.decode()

    for row in rows:
        assert f'href="/tables/{table.pk}/rows/{row.pk}/"' in page
    assert EmailLogEntry.objects.count() == 3
