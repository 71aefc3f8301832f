"""Twenty concurrent requests on PostgreSQL racing for the site provider and sending email leave
exactly the right rows (the concurrent init is in email_logs/tests/test_email_log_tables.py)."""

import pytest
import responses

from email_logs.models import EmailLogEntry
from integrations.models import Integration
from opbox.testing import race
from workspaces.models import Role

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_admins_taking_the_site_provider_leave_exactly_one(make_integration, api_as):
    integrations = [make_integration("EMAIL_PROVIDER", name=f"Email {i}") for i in range(20)]
    clients = [api_as(Role.ADMIN) for _ in integrations]

    statuses = race([
        (lambda c=c, i=i: c.patch(f"/api/integrations/{i.id}", {"setAsSiteEmailProvider": True}, format="json").status_code)
        for c, i in zip(clients, integrations, strict=True)
    ])  # fmt: skip

    assert statuses == [200] * 20
    assert Integration.objects.filter(is_site_email_provider=True).count() == 1


def test_twenty_concurrent_sends_make_twenty_rows_and_twenty_sends(make_integration, api_as, settings):
    settings.EMAIL_SEND_MAX_BACKOFF = 0
    make_integration("EMAIL_PROVIDER", set_as_site_email_provider=True)
    clients = [api_as(Role.MEMBER) for _ in range(20)]
    with responses.RequestsMock() as provider:
        provider.add(responses.POST, "https://provider-a.test/emails", json={"id": "accepted"})
        statuses = race([
            (lambda c=c, n=n: c.post("/api/emails", {"to": f"c{n}@example.com", "subject": f"#{n}", "text": "x"}, format="json").status_code)
            for n, c in enumerate(clients)
        ])  # fmt: skip
        keys = {call.request.headers["Idempotency-Key"] for call in provider.calls}

    assert statuses == [201] * 20
    assert EmailLogEntry.objects.filter(status="delivered").count() == 20
    assert len(keys) == 20
