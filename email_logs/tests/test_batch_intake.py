"""POST /api/emails/batch: up to 1,000 emails validated together, written together, or not at all."""

import base64

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from email_logs.events.suppressions import record_suppressions
from email_logs.models import EmailLogEntry, EmailSource, OutboundEmail, SuppressionReason
from email_logs.sending.intake import SUPPRESSION_PROBE_LIMIT, send_email
from integrations.providers import OutboundMessage

from .conftest import resend_accepts

pytestmark = pytest.mark.django_db(transaction=True)

DATABASE_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def an_email(n: int, **overrides) -> dict:
    return {"to": f"client{n}@example.com", "subject": f"Statement {n}", "text": "Attached.", **overrides}


def post_batch(api, emails):
    return api.post("/api/emails/batch", {"emails": emails}, format="json")


def nothing_written() -> bool:
    return not EmailLogEntry.objects.exists() and not OutboundEmail.objects.exists() and not DBTaskResult.objects.exists()


def test_one_bad_email_among_a_thousand_is_named_by_index_and_nothing_is_written(member_api, site_provider_a, settings):
    settings.TASKS = DATABASE_BACKEND
    emails = [an_email(n) for n in range(1000)]
    emails[737]["to"] = ["client737@example.com", "not-an-address"]

    response = post_batch(member_api, emails)

    assert response.status_code == 400
    assert response.json() == {"emails": {"737": {"to": ["to: 'not-an-address' is not a valid email address."]}}}
    assert nothing_written()


def test_a_malformed_email_is_named_by_index_with_every_other_one(member_api, site_provider_a, settings):
    settings.TASKS = DATABASE_BACKEND
    emails = [an_email(0), {"to": "a@example.com"}, an_email(2), "not an object", an_email(4, attachments=[{"filename": "x"}])]

    response = post_batch(member_api, emails)

    assert response.status_code == 400
    errors = response.json()["emails"]
    assert sorted(errors) == ["1", "3", "4"]
    assert "subject" in errors["1"] and "attachments" in errors["4"]
    assert nothing_written()


@pytest.mark.parametrize(
    "bad",
    [
        {"subject": "Invoice\r\nBcc: everyone@example.com"},
        {"subject": "Invoice\nX-Injected: yes"},
        {"subject": "Invoice\0"},
        {"fromName": "Acme\r\nBcc: everyone@example.com"},  # the sender's name is the integration's, never the caller's
        {"attachments": [{"filename": "letter.pdf\r\nContent-Type: text/html", "content": base64.b64encode(b"x").decode()}]},
        {"attachments": [{"filename": "letter\0.pdf", "content": base64.b64encode(b"x").decode()}]},
    ],
    ids=["subject-crlf", "subject-lf", "subject-nul", "from-name", "filename-crlf", "filename-nul"],
)
def test_a_header_breaking_subject_from_name_or_filename_is_a_400(member_api, site_provider_a, settings, bad):
    settings.TASKS = DATABASE_BACKEND

    response = post_batch(member_api, [an_email(0), an_email(1, **bad)])

    assert response.status_code == 400
    assert list(response.json()["emails"]) == ["1"]
    assert nothing_written()


@pytest.mark.parametrize("emails", [[], [an_email(n) for n in range(1001)]], ids=["none", "1001"])
def test_between_one_and_a_thousand_emails_are_taken(member_api, site_provider_a, settings, emails):
    settings.TASKS = DATABASE_BACKEND

    response = post_batch(member_api, emails)

    assert response.status_code == 400 and "emails" in response.json()
    assert nothing_written()


def test_an_unknown_integration_of_one_email_is_named_by_index(member_api, site_provider_a, settings):
    settings.TASKS = DATABASE_BACKEND

    response = post_batch(member_api, [an_email(0), an_email(1, integrationId="no-such-integration")])

    assert response.status_code == 400
    assert list(response.json()["emails"]["1"]) == ["integrationId"]
    assert nothing_written()


def test_without_a_site_provider_the_batch_is_a_409(member_api, settings):
    settings.TASKS = DATABASE_BACKEND

    response = post_batch(member_api, [an_email(0)])

    assert response.status_code == 409
    assert nothing_written()


def test_queued_rows_come_back_in_request_order_with_a_202(member_api, site_provider_a, provider_b, settings):
    settings.TASKS = DATABASE_BACKEND
    emails = [an_email(n, **({"integrationId": provider_b.pk} if n % 3 == 0 else {})) for n in range(30)]

    response = post_batch(member_api, emails)

    assert response.status_code == 202
    rows = response.json()["results"]
    assert [row["values"]["To"] for row in rows] == [f"client{n}@example.com" for n in range(30)]
    assert {row["values"]["Status"] for row in rows} == {"queued"}
    assert [row["values"]["Provider"] for row in rows[:3]] == ["email-provider-b", "email-provider-a", "email-provider-a"]
    assert EmailLogEntry.objects.filter(source=EmailSource.WORKFLOW_EMAIL).count() == OutboundEmail.objects.count() == 30


def test_inline_sends_answer_200_with_the_final_rows(member_api, site_provider_a, provider):
    resend_accepts(provider, "single-send")

    response = post_batch(member_api, [an_email(0)])

    assert response.status_code == 200
    assert response.json()["results"][0]["values"]["Status"] == "delivered"


def test_a_suppressed_recipient_is_left_out_of_a_batch_and_a_fully_suppressed_email_is_not_sent(
    member_api, admin_api, site_provider_a, settings
):
    settings.TASKS = DATABASE_BACKEND
    assert admin_api.post("/api/suppressions", {"address": "Gone@Example.com"}, format="json").status_code == 201

    response = post_batch(member_api, [an_email(0, cc="gone@example.com"), an_email(1, to="gone@example.com"), an_email(2)])

    first, second, third = (row["values"] for row in response.json()["results"])
    assert (first["Status"], first["CC"], first["Error"]) == ("queued", "", "Not sent to suppressed recipients: gone@example.com")
    assert (second["Status"], second["Error"]) == ("failed", "All recipients are suppressed: gone@example.com")
    assert third["Error"] == ""
    assert OutboundEmail.objects.count() == 2  # the fully suppressed email has nothing to send


def test_the_batch_costs_the_same_statements_for_ten_emails_as_for_a_thousand(member_api, workspace, site_provider_a, settings):
    """On the database task backend (its task rows are written too), with two addresses an email, so the
    thousand emails' 2,000 addresses are more than one lookup would take in passing (SUPPRESSION_PROBE_LIMIT),
    and one of them suppressed, so the lookup of which ones runs and finds it."""
    settings.TASKS = DATABASE_BACKEND
    record_suppressions(workspace.pk, [("gone@example.com", SuppressionReason.COMPLAINED, None)])
    post_batch(member_api, [an_email(0)])  # the token's first use of the day is recorded once
    counts, tasks = [], []
    for size in (10, 1000):
        emails = [an_email(n, cc=f"copy{n}@example.com") for n in range(size)]
        emails[7]["cc"] = "Gone@Example.com"
        before = DBTaskResult.objects.count()
        with CaptureQueriesContext(connection) as queries:
            response = post_batch(member_api, emails)
        assert response.status_code == 202
        assert response.json()["results"][7]["values"]["Error"] == "Not sent to suppressed recipients: Gone@Example.com"
        counts.append(len(queries))
        tasks.append(DBTaskResult.objects.count() - before)

    assert 2 * 1000 > SUPPRESSION_PROBE_LIMIT
    assert tasks == [1, 10]  # a task per batch of 100 provider-A emails, all written
    if connection.vendor == "sqlite":  # SQLite caps the parameters of one statement: its bulk inserts are split
        assert counts[1] <= counts[0] + 2 * (1000 * 17 // 999 + 1), counts
    else:
        assert counts[0] == counts[1], counts


def test_send_email_writes_one_email_in_four_statements(workspace, site_provider_a, settings):
    settings.TASKS = DATABASE_BACKEND
    email = OutboundMessage(to=["client@example.com"], subject="Hi", text="x")
    send_email(workspace, email, source=EmailSource.WORKFLOW_EMAIL)  # the first send creates what later ones reuse

    with CaptureQueriesContext(connection) as queries:
        send_email(workspace, OutboundMessage(to=["client@example.com"], subject="Hi", text="x"), source=EmailSource.WORKFLOW_EMAIL)

    # The sender with its table (and whether a recipient is suppressed), the row, the outbox record, the task.
    statements = [query["sql"] for query in queries if query["sql"] not in ("BEGIN", "COMMIT")]  # SQLite logs these
    assert len(statements) <= 4, statements
