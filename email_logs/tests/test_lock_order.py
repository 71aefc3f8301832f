"""Every writer of Email Log rows locks them in one order, the primary key's, and a transaction that still
loses a deadlock runs again (issue 18, item 3). On PostgreSQL, with a second real connection that holds
locks when told: the settle and erasure must wait for it holding only what that order allows, and when it
closes a cycle on purpose they must come through, not leave rows queued or stop halfway.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import responses
from django.db import connections

from email_logs.lifecycle import entry_points as lifecycle
from email_logs.lifecycle.erasure import ERASED, scrub_rows
from email_logs.models import EmailLogEntry, EmailSource, EmailStatus, OutboundEmail
from email_logs.sending import delivery
from email_logs.sending.intake import send_email
from email_logs.sending.settling import settle_all
from integrations.providers import OutboundMessage
from opbox.testing import OtherConnection
from tables.models import Table
from workspaces.models import AuditEvent

from .conftest import PROVIDER_A, PROVIDER_B

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ADA = "ada@example.com"
SMALL, BIG = "c" + "0" * 24, "c" + "z" * 24
LOCK_ROW = "SELECT id FROM email_logs_emaillogentry WHERE id = %s FOR UPDATE"
LOCK_OUTBOX = "SELECT entry_id FROM email_logs_outboundemail WHERE entry_id = %s FOR UPDATE"


@pytest.fixture
def other(transactional_db):
    holder = OtherConnection()
    yield holder
    holder.close()  # before the test's tables are emptied


@pytest.fixture
def log(site_provider_a):
    return Table.objects.get(integration=site_provider_a)


def queued(table, pk, to=ADA):
    """A queued row with its outbox, as intake leaves it."""
    entry = EmailLogEntry.objects.create(
        id=pk, table=table, integration=table.integration, to=to, from_address="noreply@acme.example", subject="Your matter",
        provider="email-provider-a", source=EmailSource.MATTER_STEP,
    )  # fmt: skip
    OutboundEmail.objects.create(entry=entry, payload={"to": [to], "subject": "Your matter"}, attempts=1)
    return entry


def on_its_own_connection(work):
    def run():
        try:
            return work()
        finally:
            connections.close_all()

    return run


def statuses():
    return dict(EmailLogEntry.objects.values_list("pk", "status"))


# One order: the primary key's ---------------------------------------------------------------------------------


def test_the_settle_locks_its_rows_in_primary_key_order(log, other):
    queued(log, BIG), queued(log, SMALL)  # the larger id first, in the table and in the results
    outboxes = list(OutboundEmail.objects.select_related("entry").order_by("-pk"))
    assert other.lock(LOCK_ROW, [BIG])

    with ThreadPoolExecutor(1) as pool:
        settling = pool.submit(on_its_own_connection(lambda: settle_all([(o, EmailStatus.DELIVERED, f"m-{o.pk}", "", "") for o in outboxes])))
        other.until_someone_waits()
        small_was_free = other.lock(LOCK_ROW, [SMALL], nowait=True)
        other.rollback()
        settling.result()

    assert not small_was_free  # it took the smaller id, then waited for the larger
    assert statuses() == {SMALL: EmailStatus.DELIVERED, BIG: EmailStatus.DELIVERED}


def test_erasure_locks_its_rows_in_primary_key_order(log, other):
    queued(log, BIG), queued(log, SMALL)
    assert other.lock(LOCK_ROW, [BIG])

    with ThreadPoolExecutor(1) as pool:
        scrubbing = pool.submit(on_its_own_connection(lambda: scrub_rows([BIG, SMALL], ADA)))
        other.until_someone_waits()
        small_was_free = other.lock(LOCK_ROW, [SMALL], nowait=True)
        other.rollback()
        scrubbing.result()

    assert not small_was_free
    assert set(EmailLogEntry.objects.values_list("to", flat=True)) == {ERASED}


# A transaction that loses a deadlock runs again ------------------------------------------------------------------


def test_a_settle_that_loses_a_deadlock_runs_again_and_its_row_ends_delivered(workspace, provider_b, provider, other):
    """While SendGrid answers, another transaction locks the email's outbox record; once the settle waits for it,
    that transaction asks for the email's row, which the settle holds: a cycle, which PostgreSQL breaks by
    aborting the settle. The settle must run again, not leave the row queued."""

    def answer(request):
        row_id = json.loads(request.body)["custom_args"]["opbox_email_id"]
        assert other.lock(LOCK_OUTBOX, [row_id])

        def close_the_cycle():
            other.until_someone_waits()  # the settle, waiting for the outbox record
            other.lock(LOCK_ROW, [row_id])  # waits for the settle: PostgreSQL aborts the settle, and this goes on
            other.commit()

        closing.append(pool.submit(close_the_cycle))
        return 202, {"X-Message-Id": "sg-1"}, ""

    closing = []
    provider.add_callback(responses.POST, f"{PROVIDER_B}/v3/mail/send", callback=answer)
    with ThreadPoolExecutor(1) as pool:
        entry = send_email(
            workspace, OutboundMessage(to=[ADA], subject="Hi", text="x"), source=EmailSource.FORM_SEND, integration_id=provider_b.pk
        )
        closing[0].result()

    entry.refresh_from_db()
    assert (entry.status, entry.message_id, entry.attempts) == (EmailStatus.DELIVERED, "sg-1", 1)
    assert not OutboundEmail.objects.exists()
    assert len(provider.calls) == 1


def test_an_erasure_that_loses_a_deadlock_runs_again_and_is_audited(workspace, log, other):
    for pk in (SMALL, BIG):
        queued(log, pk)
    assert other.lock(LOCK_ROW, [BIG])

    with ThreadPoolExecutor(1) as pool:
        erasing = pool.submit(on_its_own_connection(lambda: lifecycle.erase_address(workspace, ADA)))
        other.until_someone_waits()  # erasure holds the smaller id and waits for the larger
        other.lock(LOCK_ROW, [SMALL])  # a cycle: PostgreSQL aborts the erasure's transaction
        other.commit()
        result = erasing.result()

    assert result.rows == 2
    assert set(EmailLogEntry.objects.values_list("to", flat=True)) == {ERASED}
    assert AuditEvent.objects.filter(action="privacy.erased").count() == 1


def test_erasure_does_not_wait_for_an_email_a_sender_is_claiming_and_follows_it_instead(workspace, log, other):
    """A claim locks the outbox record first, then (to apply suppressions) the row; erasure locks the row, then
    the record. Were erasure to wait for the record, the two would wait on each other: it leaves it in flight."""
    entry = queued(log, SMALL)
    OutboundEmail.objects.filter(pk=entry.pk).update(attempts=0)  # never tried: erasure would withdraw the address
    assert other.lock(LOCK_OUTBOX, [SMALL])  # a sender claiming it

    pool = ThreadPoolExecutor(1)
    erasing = pool.submit(on_its_own_connection(lambda: lifecycle.erase_address(workspace, ADA)))
    try:
        result = erasing.result(timeout=30)  # done while the record is still locked
    finally:
        other.rollback()
        pool.shutdown()

    assert result.in_flight == [SMALL]  # the sweep follows it; the claim itself sees the new suppression
    assert EmailLogEntry.objects.get().to == ERASED


def test_a_sender_waits_for_an_email_whose_record_another_transaction_holds_instead_of_leaving_it_queued(
    workspace, site_provider_a, provider, other, settings
):
    """Erasure locks the outbox record of a queued email it scrubs; a sender claiming that email meanwhile must
    wait for it, not skip it: nobody else would send it until the in-flight sweep, 15 minutes on."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # sent below, by hand
    provider.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "sent-after-the-wait"})
    entry = send_email(workspace, OutboundMessage(to=[ADA], subject="Hi", text="x"), source=EmailSource.FORM_SEND)
    assert other.lock(LOCK_OUTBOX, [entry.pk])

    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(on_its_own_connection(lambda: delivery.deliver_queued(site_provider_a.pk, [entry.pk])))
        while not (sending.done() or other.waiters()):  # the sender waits for the record (or, skipping it, ends)
            time.sleep(0.02)
        other.commit()
        counts = sending.result()

    assert counts == {"delivered": 1}  # not {} (the email skipped, left queued)
    entry.refresh_from_db()
    assert (entry.status, entry.message_id) == (EmailStatus.DELIVERED, "sent-after-the-wait")
