"""In a real browser: an email the provider refuses fails, the Slack fake gets one message with a link to it, and
its Delivery Log row (on the Tables page's Integrations tab) links back to the email. Every page passes axe-core."""

import pytest
import requests

from email_logs.models import EmailSource
from email_logs.sending.intake import send_email
from integrations.providers import OutboundMessage
from integrations.services import create_integration
from opbox.tests.browser import assert_accessible, log_in, shoot
from scripts.fake_providers import serve_in_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fakes(settings, live_server):
    """The local fakes of Slack's Web API and of provider A, links in messages pointing at the live server."""
    server, url = serve_in_thread()
    settings.SLACK_API_URL = f"{url}/slack/api"
    settings.EMAIL_PROVIDER_A_API_URL = f"{url}/a"
    settings.DELIVERY_SLACK_REQUESTS_PER_SECOND = None
    settings.OPBOX_BASE_URL = live_server.url
    yield url
    server.shutdown()
    server.server_close()


def a_failed_email(workspace):
    """An email the provider refuses (the fake refuses a key containing `reject`): its row fails, and the
    Email Log records email.failed with it."""
    create_integration(workspace, name="Mail", type="EMAIL_PROVIDER", config={"fromEmail": "noreply@acme.example"},
                       credentials={"apiKey": "re_reject_browser_test_1234"}, set_as_site_email_provider=True)  # fmt: skip
    message = OutboundMessage(to=["client@example.com"], subject="Engagement letter", text="Attached.")
    entry = send_email(workspace, message, source=EmailSource.WORKFLOW_EMAIL)
    entry.refresh_from_db()
    assert entry.status == "failed"
    return entry


def test_a_failed_email_reaches_slack_and_its_delivery_log_row_links_back_to_it(page, owner, fakes, live_server):
    from playwright.sync_api import expect

    slack = create_integration(owner.workspace, name="Alerts", type="SLACK", config={"channel": "C0123ALERTS"},
                               credentials={"botToken": "xoxb-browser-test-token"})  # fmt: skip
    entry = a_failed_email(owner.workspace)

    (message,) = [sent for sent in requests.get(f"{fakes}/_sent", timeout=5).json() if sent["provider"] == "slack"]
    email_url = f"{live_server.url}/tables/{entry.table_id}/rows/{entry.pk}/"
    assert message["body"] == {"channel": "C0123ALERTS", "text": f"The email 'Engagement letter' to client@example.com failed: {entry.error}. {email_url}"}

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
