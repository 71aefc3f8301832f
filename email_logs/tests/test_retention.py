"""Retention: rows older than the workspace's period go, with their events and outbox records, in batches;
rows still in flight, rows of workspaces that keep everything and rows of other workspaces stay."""

import io
import threading
import time
from datetime import timedelta

import pytest
import responses
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from email_logs.lifecycle.retention import purge_expired
from email_logs.models import EmailEvent, EmailLogEntry, EmailSource, EmailStatus, OutboundEmail, Suppression
from email_logs.sending.delivery import deliver_queued_email
from email_logs.sending.intake import send_email
from email_logs.tests.factories import add_rows
from integrations.providers import OutboundMessage
from tables.models import Table
from workspaces.models import Role
from workspaces.services import set_email_log_retention

from .conftest import PROVIDER_A

DAY = timedelta(days=1)


@pytest.fixture
def log(workspace, site_provider_a):
    return Table.objects.get(integration=site_provider_a)


def rows_sent(table, ago: timedelta, count=1, **fields):
    return add_rows(table, count, start=timezone.now() - ago, **fields)


def an_event(entry, n=0, recipient="client@example.com"):
    return EmailEvent.objects.create(
        entry=entry, integration_id=entry.table.integration_id, provider_event_id=f"evt-{entry.pk}-{n}",
        type="delivered", recipient=recipient, occurred_at=entry.sent_at,
    )  # fmt: skip


def purge(slug=None, dry_run=False) -> str:
    out = io.StringIO()
    call_command("purge_email_logs", *(["--workspace", slug] if slug else []), *(["--dry-run"] if dry_run else []), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_rows_older_than_the_period_go_and_younger_ones_stay(workspace, log):
    set_email_log_retention(workspace, 30)
    expired = rows_sent(log, 30 * DAY + timedelta(minutes=5), 3)
    kept = rows_sent(log, 30 * DAY - timedelta(minutes=5), 2)

    output = purge()

    assert set(EmailLogEntry.objects.values_list("pk", flat=True)) == {row.pk for row in kept}
    assert not EmailLogEntry.objects.filter(pk__in=[row.pk for row in expired]).exists()
    assert "acme (kept 30 days" in output and "removed 3 rows" in output


@pytest.mark.django_db
def test_their_events_and_outbox_records_go_with_them_and_suppressions_keep_no_link(workspace, log):
    set_email_log_retention(workspace, 7)
    old, young = rows_sent(log, 8 * DAY)[0], rows_sent(log, 6 * DAY)[0]
    an_event(old, 1), an_event(old, 2), an_event(young, 3)
    OutboundEmail.objects.create(entry=old, payload={"to": ["client@example.com"], "subject": "x"})  # a leftover, unleased
    suppression = Suppression.objects.create(workspace=workspace, address="", address_hash="h" * 64, reason="bounced", entry=old)

    output = purge()

    assert "removed 1 rows, 2 events, 1 outbox records" in output
    assert list(EmailEvent.objects.values_list("entry_id", flat=True)) == [young.pk]
    assert not OutboundEmail.objects.exists()
    suppression.refresh_from_db()
    assert suppression.entry_id is None  # the suppression itself stays: the address still receives nothing


@pytest.mark.django_db
def test_a_dry_run_says_what_would_go_and_deletes_nothing(workspace, log):
    set_email_log_retention(workspace, 30)
    an_event(rows_sent(log, 40 * DAY, 4)[0])
    rows_sent(log, DAY, 2)

    output = purge("acme", dry_run=True)

    assert "would remove 4 rows, 1 events, 0 outbox records" in output
    assert EmailLogEntry.objects.count() == 6 and EmailEvent.objects.count() == 1


@pytest.mark.django_db
def test_rows_still_in_flight_are_never_purged(workspace, log):
    set_email_log_retention(workspace, 7)
    queued = rows_sent(log, 30 * DAY, status=EmailStatus.QUEUED)[0]
    OutboundEmail.objects.create(entry=queued, payload={"to": ["a@example.com"], "subject": "x"})
    being_settled = rows_sent(log, 30 * DAY, status=EmailStatus.FAILED)[0]  # final, but a sender still holds its outbox
    OutboundEmail.objects.create(entry=being_settled, payload={}, lease_expires_at=timezone.now() + timedelta(minutes=5))
    final = rows_sent(log, 30 * DAY)[0]

    purge()

    assert set(EmailLogEntry.objects.values_list("pk", flat=True)) == {queued.pk, being_settled.pk}
    assert not EmailLogEntry.objects.filter(pk=final.pk).exists()
    assert OutboundEmail.objects.count() == 2


@pytest.mark.django_db
def test_workspaces_that_keep_everything_and_other_workspaces_are_untouched(workspace, other_workspace, log, make_integration):
    other_log = Table.objects.get(integration=make_integration("EMAIL_PROVIDER", in_workspace=other_workspace))
    set_email_log_retention(workspace, 7)
    rows_sent(log, 30 * DAY, 2)
    kept_elsewhere = rows_sent(other_log, 30 * DAY, 3)  # globex keeps rows forever

    assert "globex keeps its Email Log rows forever" in purge("globex")
    purge()

    assert list(EmailLogEntry.objects.values_list("table_id", flat=True).distinct()) == [other_log.pk]
    assert EmailLogEntry.objects.count() == len(kept_elsewhere)


@pytest.mark.django_db
def test_with_no_retention_anywhere_the_command_says_so():
    assert purge() == "No workspace has a retention period: nothing to purge.\n"


@pytest.mark.django_db
def test_batches_walk_the_table_oldest_first_and_stop_at_the_deadline(workspace, log, settings):
    settings.EMAIL_LOG_PURGE_BATCH_SIZE = 3
    set_email_log_retention(workspace, 7)
    rows = rows_sent(log, 30 * DAY, 10)

    stopped = purge_expired(deadline=time.monotonic() - 1)  # already past: one batch, so every run makes progress
    assert [(r.rows, r.finished) for r in stopped] == [(3, False)]
    assert set(EmailLogEntry.objects.values_list("pk", flat=True)) == {row.pk for row in rows[3:]}  # the oldest went first

    [report] = purge_expired()
    assert (report.rows, report.finished) == (7, True)
    assert not EmailLogEntry.objects.filter(pk__in=[row.pk for row in rows]).exists()


def test_every_relation_to_a_log_row_is_handled_by_the_batch_delete():
    """A new model pointing at EmailLogEntry must say, through its on_delete, what a purge does to it."""
    from django.db import models

    from email_logs.lifecycle.retention import dependant_relations

    assert {relation.related_model for relation in dependant_relations()} >= {EmailEvent, OutboundEmail, Suppression}
    for relation in dependant_relations():
        assert relation.field.remote_field.on_delete in (models.CASCADE, models.SET_NULL, models.DO_NOTHING), relation


@pytest.mark.django_db
def test_the_tables_pages_say_how_long_rows_are_kept(pages_as, workspace, make_integration):
    make_integration("EMAIL_PROVIDER", set_as_site_email_provider=True)
    browser = pages_as(Role.MEMBER)
    table = Table.objects.get()
    assert "Email log rows are kept forever." in " ".join(browser.get("/tables/").content.decode().split())

    workspace.email_log_retention_days = 90
    workspace.save()

    assert "Email log rows are kept for 90 days, then deleted automatically." in " ".join(
        browser.get("/tables/").content.decode().split()
    )
    assert "Rows are kept for 90 days, then deleted automatically." in browser.get(f"/tables/{table.pk}/").content.decode()


# PostgreSQL: purging while emails are being sent --------------------------------------------------


def _send_slowly(request):
    time.sleep(0.05)  # the provider takes a moment: the purge runs while sends are mid-call
    return 200, {}, '{"id": "accepted"}'


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_purging_while_sends_run_loses_nothing_in_flight(workspace, log, settings):
    settings.EMAIL_LOG_PURGE_BATCH_SIZE = 5
    set_email_log_retention(workspace, 7)
    expired = rows_sent(log, 30 * DAY, 60)
    # Old emails still on their way (a long retry, a recovery resend): queued with an outbox, sent during the purge.
    stuck = rows_sent(log, 30 * DAY, 12, status=EmailStatus.QUEUED)
    EmailLogEntry.objects.filter(pk__in=[row.pk for row in stuck]).update(integration=log.integration)
    for row in stuck:
        OutboundEmail.objects.create(entry=row, payload={"to": ["late@example.com"], "subject": "Late", "text": "x"})
    errors, sent = [], []

    def sender(chunk):
        try:
            for row in chunk:
                deliver_queued_email(row.pk)
            for n in range(10):
                message = OutboundMessage(to=[f"new{n}@example.com"], subject=f"New {n}", text="x")
                sent.append(send_email(workspace, message, source=EmailSource.WORKFLOW_EMAIL).pk)
        except Exception as error:  # noqa: BLE001 (reported below, with the thread's failure)
            errors.append(error)
        finally:
            connections.close_all()

    def purger():
        try:
            for _ in range(5):
                purge_expired()
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connections.close_all()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as provider:
        provider.add_callback(responses.POST, f"{PROVIDER_A}/emails", callback=_send_slowly)
        threads = [threading.Thread(target=sender, args=(stuck[i::3],)) for i in range(3)] + [threading.Thread(target=purger)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        purge_expired()  # the stuck rows settled meanwhile: now final, they go like any other expired row
        calls = len(provider.calls)

    assert errors == []
    assert calls == len(stuck) + len(sent)
    assert not EmailLogEntry.objects.filter(pk__in=[row.pk for row in expired + stuck]).exists()
    assert set(EmailLogEntry.objects.values_list("pk", flat=True)) == set(sent)
    assert set(EmailLogEntry.objects.values_list("status", flat=True)) == {EmailStatus.DELIVERED}
    assert not OutboundEmail.objects.exists()
