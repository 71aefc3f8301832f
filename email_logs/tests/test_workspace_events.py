"""The Email Log records its workspace events (SPEC §15) in the transaction of the change: `email.sent` when a
row becomes delivered (accepted), `email.failed` when it becomes failed, and one event per provider event
applied (`email.delivered`, `email.bounced`, `email.complained`, `email.opened`, `email.clicked`), never for a
duplicate; the data is the row as the rows API shapes it, with its table id. A rollback leaves none."""

import pytest
import responses
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from email_logs.models import EmailLogEntry, EmailSource
from email_logs.sending.intake import send_email, send_emails
from integrations.providers import OutboundMessage
from workspaces.models import WorkspaceEvent

from .conftest import PROVIDER_A
from .signing import as_body, sendgrid_event
from .webhook_helpers import logged, post_webhook, webhook_path

pytestmark = pytest.mark.django_db


def events():
    return list(WorkspaceEvent.objects.order_by("created_at", "id").values_list("type", "data"))


def message(to="ada@example.com"):
    return OutboundMessage(to=[to], subject="Engagement letter", text="Attached.")


def test_a_sent_email_is_one_email_sent_event_with_its_row(workspace, site_provider_a, provider, django_capture_on_commit_callbacks):
    provider.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "re-1"})
    with django_capture_on_commit_callbacks(execute=True):
        entry = send_email(workspace, message(), source=EmailSource.WORKFLOW_EMAIL)
    ((kind, data),) = events()
    entry.refresh_from_db()
    assert kind == "email.sent" and entry.status == "delivered"
    assert data["id"] == entry.pk and data["tableId"] == entry.table_id
    assert data["values"]["To"] == "ada@example.com" and data["values"]["Status"] == "delivered"
    assert data["values"]["Message ID"] == "re-1" and data["values"]["Subject"] == "Engagement letter"
    assert WorkspaceEvent.objects.get().workspace_id == workspace.pk


def test_a_refused_email_is_one_email_failed_event(workspace, site_provider_a, provider, django_capture_on_commit_callbacks):
    provider.add(responses.POST, f"{PROVIDER_A}/emails", status=422, json={"statusCode": 422, "name": "validation_error", "message": "Invalid `to`."})
    with django_capture_on_commit_callbacks(execute=True):
        send_email(workspace, message(), source=EmailSource.WORKFLOW_EMAIL)
    assert [(kind, data["values"]["Status"]) for kind, data in events()] == [("email.failed", "failed")]


def test_a_send_whose_transaction_rolls_back_records_nothing(workspace, site_provider_a, provider, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        send_email(workspace, message(), source=EmailSource.WORKFLOW_EMAIL)
        raise RuntimeError("the caller's change failed")
    assert events() == [] and not EmailLogEntry.objects.exists() and len(provider.calls) == 0


def test_settling_a_hundred_emails_records_their_events_in_one_insert(workspace, site_provider_a, provider, django_capture_on_commit_callbacks):
    provider.add_callback(responses.POST, f"{PROVIDER_A}/emails/batch", callback=lambda request: (200, {}, '{"data": ' + str([{"id": f"re-{n}"} for n in range(100)]).replace("'", '"') + "}"))
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        send_emails(workspace, [message(f"client{n}@example.com") for n in range(100)], source=EmailSource.WORKFLOW_AUTOMATION)
    assert [kind for kind, _ in events()] == ["email.sent"] * 100
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "workspaces_workspaceevent"')]
    assert len(inserts) == (1 if connection.vendor == "postgresql" else len(inserts)) and len(inserts) <= 3


def test_applied_provider_events_are_recorded_once_each_and_a_row_they_fail_is_email_failed(client, hooked_b, signer):
    row = logged(hooked_b, to="ada@example.com", message_id="sg-1")
    batch = [
        sendgrid_event("delivered", "ev-1", message_id="sg-1"),
        sendgrid_event("open", "ev-2", message_id="sg-1"),
        sendgrid_event("bounce", "ev-3", message_id="sg-1", type="bounce", reason="550 5.1.1 mailbox unavailable"),
    ]
    for _ in range(2):  # the same request again: duplicates, no new events
        body = as_body(batch)
        assert post_webhook(client, webhook_path(hooked_b), body, signer.headers(body)).status_code == 200
    kinds = [kind for kind, _ in events()]
    assert sorted(kinds) == ["email.bounced", "email.delivered", "email.failed", "email.opened"]
    failed = dict(events())["email.failed"]
    assert failed["id"] == row.pk and failed["values"]["Status"] == "failed" and "Bounced: ada@example.com" in failed["values"]["Error"]


def test_the_settle_writes_its_event_in_its_own_transaction_and_a_rollback_takes_both(workspace, site_provider_a, settings):
    from email_logs.models import OutboundEmail
    from email_logs.sending.settling import settle

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # queued, not sent
    entry = send_email(workspace, message(), source=EmailSource.WORKFLOW_EMAIL)
    outbox = OutboundEmail.objects.select_related("entry").get(entry=entry)
    with pytest.raises(RuntimeError), transaction.atomic():
        settle(outbox, "delivered", message_id="re-1")
        assert [kind for kind, _ in events()] == ["email.sent"]  # written with the row, before any commit
        raise RuntimeError("the settling transaction rolls back")
    entry.refresh_from_db()
    assert entry.status == "queued" and events() == []
