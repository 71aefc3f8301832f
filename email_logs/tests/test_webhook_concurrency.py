"""Providers deliver the same events several times at once, and one email's recipients' bounces in
different requests: on PostgreSQL, concurrent requests store each event once, count it once, and the
row ends as the events say."""

import pytest
from django.test import Client

from email_logs.models import EmailEvent, EmailLogEntry
from opbox.testing import race

from .signing import as_body, sendgrid_event
from .webhook_helpers import logged, post_webhook, webhook_path

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def post_all(integration, signer, batches):
    def post(batch):
        body = as_body(batch)
        response = post_webhook(Client(), webhook_path(integration), body, signer.headers(body))
        return response.status_code, response.json()

    return race([lambda batch=batch: post(batch) for batch in batches])


def test_four_concurrent_deliveries_of_one_batch_store_and_count_each_event_once(hooked_b, signer):
    rows = [logged(hooked_b, to=f"r{i}@example.com", message_id=f"sg-{i}") for i in range(50)]
    batch = [sendgrid_event(kind, f"{kind}-{i}", email=row.to, row_id=row.pk) for i, row in enumerate(rows) for kind in ("processed", "delivered", "open")]

    results = post_all(hooked_b, signer, [batch] * 4)

    assert [status for status, _ in results] == [200] * 4
    assert sum(counts["applied"] for _, counts in results) == 150
    assert sum(counts["duplicates"] for _, counts in results) == 450
    assert EmailEvent.objects.count() == 150


def test_bounces_of_one_emails_recipients_in_concurrent_requests_fail_it(hooked_b, signer):
    rows = [logged(hooked_b, to=f"a{i}@example.com, b{i}@example.com", message_id=f"sg-{i}") for i in range(60)]

    def bounces(prefix):
        return [sendgrid_event("bounce", f"{prefix}-{i}", email=f"{prefix}{i}@example.com", type="bounce", reason="550 gone", row_id=row.pk)
                for i, row in enumerate(rows)]  # fmt: skip

    results = post_all(hooked_b, signer, [bounces("a"), bounces("b")])

    assert [status for status, _ in results] == [200, 200]
    assert EmailLogEntry.objects.filter(status="failed").count() == 60  # each saw the other's bounce, none lost
