"""Erasure of one address: rows stay with the address replaced, its events go, its suppression keeps only
the hash, other workspaces and other addresses are untouched, and the audit trail names no address."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from email_logs.events.suppressions import address_hash, record_suppressions, suppressed_among
from email_logs.lifecycle import entry_points as lifecycle
from email_logs.lifecycle.erasure import ERASED, sweep_by_hash
from email_logs.models import EmailEvent, EmailLogEntry, EmailSource, EmailStatus, OutboundEmail, Suppression
from email_logs.sending.settling import settle
from tables.models import Table
from workspaces.models import AuditEvent, Role

pytestmark = pytest.mark.django_db

ADA = "ada@example.com"


@pytest.fixture
def log(site_provider_a):
    return Table.objects.get(integration=site_provider_a)


def a_row(table, to=ADA, cc="", bcc="", subject="Your matter", error="", status=EmailStatus.DELIVERED, **fields):
    return EmailLogEntry.objects.create(
        table=table, integration=table.integration, to=to, cc=cc, bcc=bcc, subject=subject, error=error, status=status,
        from_address="noreply@acme.example", provider="email-provider-a", source=EmailSource.MATTER_STEP,
        message_id="" if status != EmailStatus.DELIVERED else "msg-1", template_id="tmpl-7", **fields,
    )  # fmt: skip


def an_event(entry, recipient, n, detail=""):
    return EmailEvent.objects.create(
        entry=entry, integration_id=entry.integration_id, provider_event_id=f"evt-{n}", type="bounced",
        recipient=recipient, occurred_at=timezone.now(), detail=detail,
    )  # fmt: skip


def erase(workspace, address=ADA):
    return lifecycle.erase_address(workspace, address)


def fresh(row):
    row.refresh_from_db()
    return row


def test_a_row_with_other_recipients_keeps_them_and_its_subject(workspace, log):
    row = a_row(log, to="bob@example.com, ada@example.com", cc="carol@example.com", bcc=ADA, subject="Hearing on Monday")

    result = erase(workspace)

    assert (result.rows, result.events) == (1, 0)
    row = fresh(row)
    assert (row.to, row.cc, row.bcc) == ("bob@example.com, [erased]", "carol@example.com", ERASED)
    assert row.subject == "Hearing on Monday"


def test_a_row_whose_only_recipient_it_was_loses_subject_and_error_but_keeps_the_record(workspace, log):
    row = a_row(log, to=ADA, bcc=ADA, subject="Ada's divorce papers", error="550 mailbox full", status=EmailStatus.FAILED)
    before = EmailLogEntry.objects.values("status", "sent_at", "source", "template_id", "attempts").get(pk=row.pk)

    erase(workspace)

    row = fresh(row)
    assert (row.to, row.cc, row.bcc, row.subject, row.error) == (ERASED, "", ERASED, ERASED, ERASED)
    assert EmailLogEntry.objects.values("status", "sent_at", "source", "template_id", "attempts").get(pk=row.pk) == before


def test_case_does_not_matter_but_the_whole_address_must(workspace, log):
    upper = a_row(log, to="ADA@EXAMPLE.COM")
    longer = a_row(log, to="xada@example.com, ada@example.com.au", subject="Not Ada")
    mentioned = a_row(log, to="bob@example.com", error="Not sent to suppressed recipients: Ada@Example.com")

    result = erase(workspace, " Ada@Example.com ")

    assert result.rows == 2
    assert fresh(upper).to == ERASED
    assert (fresh(longer).to, fresh(longer).subject) == ("xada@example.com, ada@example.com.au", "Not Ada")
    assert fresh(mentioned).error == "Not sent to suppressed recipients: [erased]"


def test_its_events_are_deleted_and_other_events_lose_its_mentions(workspace, log):
    row = a_row(log, to=f"{ADA}, bob@example.com")
    an_event(row, "ADA@example.com", 1)
    an_event(row, ADA, 2)
    bob = an_event(row, "bob@example.com", 3)
    whole = an_event(row, "", 4, detail="550 <ada@example.com>: no such user")

    result = erase(workspace)

    assert result.events == 2
    assert set(EmailEvent.objects.values_list("pk", flat=True)) == {bob.pk, whole.pk}
    assert fresh(whole).detail == "550 <[erased]>: no such user"


def test_its_suppression_keeps_only_the_hash_and_still_withholds_sends(workspace, log):
    record_suppressions(workspace, [("Ada@example.com", "bounced", None)])

    result = erase(workspace)

    suppression = Suppression.objects.get(workspace=workspace)
    assert result.suppressions == 1
    assert (suppression.address, suppression.address_hash, suppression.reason) == ("", address_hash(ADA), "bounced")
    assert suppressed_among(workspace, ["ADA@example.com"]) == {"ADA@example.com"}


def test_an_address_never_suppressed_is_suppressed_by_its_hash(workspace, log):
    result = erase(workspace)

    assert result.suppressions == 0
    assert list(Suppression.objects.values_list("address", "address_hash", "reason")) == [("", address_hash(ADA), "manual")]


def test_another_workspace_is_untouched(workspace, other_workspace, log, make_integration):
    other_log = Table.objects.get(integration=make_integration("EMAIL_PROVIDER", in_workspace=other_workspace))
    theirs = a_row(other_log, to=ADA)
    an_event(theirs, ADA, 1)
    record_suppressions(other_workspace, [(ADA, "manual", None)])

    erase(workspace)

    assert (fresh(theirs).to, fresh(theirs).subject) == (ADA, "Your matter")
    assert EmailEvent.objects.filter(entry=theirs).count() == 1
    assert Suppression.objects.get(workspace=other_workspace).address == ADA


def test_the_audit_event_holds_the_hash_and_never_the_address(workspace, log, owner_api):
    a_row(log)

    owner_api.post("/api/privacy/erase", {"address": ADA}, format="json")

    audit = AuditEvent.objects.get(action="privacy.erased")
    assert audit.target == address_hash(ADA) and audit.changes["addressHash"] == address_hash(ADA)
    assert audit.changes["rows"] == 1 and audit.actor is not None
    trail = repr(list(AuditEvent.objects.values()))
    assert "ada@" not in trail.lower()


def test_a_queued_email_not_yet_tried_loses_the_address_from_its_outbox_or_is_cancelled(workspace, log):
    shared = a_row(log, to=f"bob@example.com, {ADA}", cc=ADA, status=EmailStatus.QUEUED)
    OutboundEmail.objects.create(
        entry=shared, payload={"to": ["bob@example.com", "Ada@example.com"], "cc": [ADA], "subject": "Hi"}
    )
    alone = a_row(log, to=ADA, status=EmailStatus.QUEUED)
    OutboundEmail.objects.create(entry=alone, payload={"to": [ADA], "subject": "Only you"})

    result = erase(workspace)

    assert OutboundEmail.objects.get(entry=shared).payload == {"to": ["bob@example.com"], "cc": [], "bcc": [], "subject": "Hi"}
    assert (fresh(alone).status, fresh(alone).error, OutboundEmail.objects.filter(entry=alone).exists()) == (
        "failed",
        ERASED,
        False,
    )
    assert result.in_flight == []


def test_an_email_being_sent_is_left_to_settle_and_the_sweep_follows_it(workspace, log):
    sending = a_row(
        log, to=f"{ADA}, bob@example.com", status=EmailStatus.QUEUED, error=f"Not sent to suppressed recipients: {ADA}"
    )
    payload = {"to": [ADA, "bob@example.com"], "subject": "Now"}
    OutboundEmail.objects.create(
        entry=sending, payload=payload, lease_expires_at=timezone.now() + timedelta(minutes=5), attempts=1
    )
    tried = a_row(log, to=ADA, status=EmailStatus.QUEUED)  # tried once, its retry due: the same send must be repeated
    OutboundEmail.objects.create(entry=tried, payload={"to": [ADA], "subject": "Retry"}, attempts=1)
    began = timezone.now()
    sender_copy = OutboundEmail.objects.select_related("entry").get(entry=sending)  # what the worker loaded

    result = erase(workspace)

    assert sorted(result.in_flight) == sorted([sending.pk, tried.pk])
    assert OutboundEmail.objects.get(entry=sending).payload == payload  # the provider may have it under this key
    assert (fresh(sending).to, fresh(sending).error) == (
        "[erased], bob@example.com",
        "Not sent to suppressed recipients: [erased]",
    )
    assert sweep_by_hash(workspace.pk, address_hash(ADA), began, result.in_flight).in_flight == sorted(result.in_flight)

    # The settle writes the row as it is now, not the sender's copy loaded before the erasure.
    settle(sender_copy, EmailStatus.DELIVERED, message_id="m-1")
    found = sweep_by_hash(workspace.pk, address_hash(ADA), began, result.in_flight)

    assert (fresh(sending).status, fresh(sending).error) == ("delivered", "Not sent to suppressed recipients: [erased]")
    assert found.rows == 0 and found.in_flight == [tried.pk]


def test_the_sweep_reaches_rows_and_events_that_arrived_during_the_erasure_knowing_only_the_hash(workspace, log):
    began = timezone.now()
    erase(workspace)
    # A send that had checked suppressions just before, committing after the scan; a settle writing back its note.
    raced = a_row(log, to=f"bob@example.com, {ADA.upper()}")
    written_back = a_row(log, to="carol@example.com", error="Not sent to suppressed recipients: ada@example.com")
    late_event = an_event(raced, ADA, 9)
    untouched = a_row(log, to="dan@example.com")

    found = sweep_by_hash(workspace.pk, address_hash(ADA), began - timedelta(minutes=15))

    assert (found.rows, found.events) == (2, 1)
    assert fresh(raced).to == "bob@example.com, [erased]"
    assert fresh(written_back).error == "Not sent to suppressed recipients: [erased]"
    assert not EmailEvent.objects.filter(pk=late_event.pk).exists()
    assert fresh(untouched).to == "dan@example.com"


# The API and the command -------------------------------------------------------------------------


def test_the_owner_gets_the_counts(owner_api, workspace, log):
    an_event(a_row(log), ADA, 1)
    a_row(log, to=f"bob@example.com, {ADA}")

    response = owner_api.post("/api/privacy/erase", {"address": "ADA@example.com"}, format="json")

    assert response.status_code == 200
    assert response.json() == {"rows": 2, "events": 1, "suppressions": 0}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
def test_admins_and_members_cannot_erase(role, api_as, workspace, log):
    row = a_row(log)

    assert api_as(role).post("/api/privacy/erase", {"address": ADA}, format="json").status_code == 403
    assert fresh(row).to == ADA and not Suppression.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"address": ""},
        {"address": "not an address"},
        {"address": 42},
        {"address": ADA, "extra": 1},
        {"address": "a" * 400 + "@x.com"},
    ],
)
def test_bad_requests_are_400_and_change_nothing(owner_api, workspace, log, body):
    row = a_row(log)

    assert owner_api.post("/api/privacy/erase", body, format="json").status_code == 400
    assert (
        fresh(row).to == ADA
        and not Suppression.objects.exists()
        and not AuditEvent.objects.filter(action="privacy.erased").exists()
    )


def test_the_command_erases_and_does_not_repeat_the_address(workspace, log):
    row = a_row(log)
    out = io.StringIO()

    call_command("erase_address", "acme", "Ada@Example.com", stdout=out)

    assert fresh(row).to == ERASED
    assert "1 rows of acme" in out.getvalue() and "ada" not in out.getvalue().lower()
    with pytest.raises(CommandError, match="No workspace"):
        call_command("erase_address", "nope", ADA)
    with pytest.raises(CommandError, match="not a valid email address"):
        call_command("erase_address", "acme", "nobody")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sends_racing_the_erasure_leave_nothing_of_the_address_once_swept(workspace, log):
    import threading
    import time

    import responses
    from django.db import connections

    from email_logs.lifecycle.erasure import RACE_WINDOW
    from email_logs.sending.intake import send_email
    from integrations.providers import OutboundMessage

    from .conftest import PROVIDER_A

    stop, sent, errors = threading.Event(), [], []

    def sender():
        try:
            while not stop.is_set():
                message = OutboundMessage(to=["bob@example.com", ADA.upper()], cc=[ADA], subject="Racing", text="x")
                sent.append(send_email(workspace, message, source=EmailSource.WORKFLOW_EMAIL).pk)
        except Exception as error:  # noqa: BLE001 (asserted below)
            errors.append(error)
        finally:
            connections.close_all()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as provider:
        provider.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "m-1"})
        threads = [threading.Thread(target=sender) for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        began = timezone.now()
        erase(workspace)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()
    sweep_by_hash(workspace.pk, address_hash(ADA), began - RACE_WINDOW)  # its later run, once sends settled

    assert errors == [] and len(sent) > 10
    rows = EmailLogEntry.objects.filter(pk__in=sent)
    assert rows.count() == len(sent) and not rows.filter(status=EmailStatus.QUEUED).exists()  # nothing lost or stuck
    for row in rows:
        assert "ada@" not in f"{row.to} {row.cc} {row.bcc} {row.subject} {row.error}".lower(), row.pk
        assert row.to.startswith("bob@example.com")  # the other recipient is untouched
    assert not OutboundEmail.objects.exists()


@pytest.mark.postgres
def test_on_postgresql_the_recipients_expression_is_the_indexed_one():
    """The query's expression must stay the index's (migration 0007), or erasure reads the whole log."""
    from django.db import connection, transaction

    from email_logs.lifecycle.erasure import RECIPIENTS_SQL

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table: make the planner show what it can use
        cursor.execute(f"EXPLAIN SELECT id FROM email_logs_emaillogentry WHERE {RECIPIENTS_SQL} @> ARRAY[%s]::text[]", [ADA])
        plan = "\n".join(line for (line,) in cursor.fetchall())

    assert "email_log_recipients" in plan, plan
