"""In a real browser: a failed email reaches the Slack fake as one message with a link to the email, and its
Delivery Log row (on the Tables page's Integrations tab) links back to the email. Every page passes axe-core."""

import pytest
import requests
from django.db import transaction

from email_logs.tests.factories import add_rows
from integrations.services import create_integration
from opbox.tests.browser import assert_accessible, log_in, shoot
from scripts.fake_providers import serve_in_thread
from tables.models import Table
from workspaces.events import record_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fake_slack(settings):
    server, url = serve_in_thread()
    settings.SLACK_API_URL = f"{url}/slack/api"
    settings.DELIVERY_SLACK_REQUESTS_PER_SECOND = None
    yield url
    server.shutdown()
    server.server_close()


def email_failed(workspace, live_server, settings):
    """An email that failed, and its email.failed event, recorded together (as the Email Log records them)."""
    email_integration = create_integration(workspace, name="Mail", type="EMAIL_PROVIDER", config={"fromEmail": "noreply@acme.example"},
                                           credentials={"apiKey": "re_browser_test_key_1234"})  # fmt: skip
    table = Table.objects.get(integration=email_integration)
    settings.OPBOX_BASE_URL = live_server.url
    with transaction.atomic():
        (entry,) = add_rows(table, 1, status="failed", subject="Engagement letter", to="client@example.com", error="Mailbox full")
        data = {"id": entry.pk, "tableId": table.pk, "createdAt": entry.created_at.isoformat(),
                "values": {"To": entry.to, "Subject": entry.subject, "Status": "failed", "Error": entry.error}}  # fmt: skip
        record_event(workspace.pk, "email.failed", data)
    return entry


def test_a_failed_email_reaches_slack_and_its_delivery_log_row_links_back_to_it(page, owner, fake_slack, live_server, settings):
    from playwright.sync_api import expect

    slack = create_integration(owner.workspace, name="Alerts", type="SLACK", config={"channel": "C0123ALERTS"},
                               credentials={"botToken": "xoxb-browser-test-token"})  # fmt: skip
    entry = email_failed(owner.workspace, live_server, settings)

    (message,) = [sent for sent in requests.get(f"{fake_slack}/_sent", timeout=5).json() if sent["provider"] == "slack"]
    email_url = f"{live_server.url}/tables/{entry.table_id}/rows/{entry.pk}/"
    assert message["body"] == {"channel": "C0123ALERTS", "text": f"The email 'Engagement letter' to client@example.com failed: Mailbox full. {email_url}"}

    log_in(page, "owner@acme.example")
    page.goto("/tables/")
    page.get_by_role("link", name="Delivery Log").first.click()
    assert_accessible(page)
    expect(page.locator("table")).to_contain_text("email.failed")
    page.get_by_role("link", name="email.failed").click()
    expect(page.locator("h1")).to_have_text("email.failed")
    expect(page.locator(".badge.status")).to_have_text("delivered")
    assert_accessible(page)
    shoot(page, "30-delivery-log-row")
    page.get_by_role("link", name="Open the email").click()
    page.wait_for_url(f"**/tables/{entry.table_id}/rows/{entry.pk}/")
    expect(page.locator("h1")).to_have_text("Engagement letter")
    assert slack.deliveries.get().status == "delivered"
