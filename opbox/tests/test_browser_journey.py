"""The product in a real browser (Debian's Chromium driven by Playwright): a person logs in, adds an email
provider, sends a test email to a local fake provider, and finds it on Tables -> Integrations; then reads,
filters, pages and exports a busy Email Log. Screenshots of the main pages go to artifacts/screenshots/.
"""

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from email_logs.models import EmailLogEntry, EmailSource, EmailStatus
from email_logs.tests.factories import add_rows
from integrations.types import fingerprint_for
from opbox.tests.browser import PASSWORD, log_in, shoot
from scripts.fake_providers import serve_in_thread
from tables.models import Table
from workspaces.models import Role
from workspaces.services import add_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fake_provider(settings):
    server, url = serve_in_thread()
    settings.EMAIL_PROVIDER_A_API_URL = f"{url}/a"
    settings.EMAIL_PROVIDER_B_API_URL = f"{url}/b"
    yield server
    server.shutdown()


def test_log_in_add_a_provider_send_a_test_email_and_find_it_in_the_log(page, owner, fake_provider):
    from playwright.sync_api import expect

    log_in(page, "owner@acme.example")
    expect(page.get_by_role("heading", name="No integration tables yet")).to_be_visible()
    expect(page.locator(".whoami")).to_contain_text("owner@acme.example")
    expect(page.locator(".whoami")).to_contain_text("Acme Legal")
    shoot(page, "02-tables-empty")

    # Add an email provider through the settings form.
    page.get_by_role("link", name="Settings · Integrations").click()
    page.get_by_role("link", name="Add an integration").click()
    page.get_by_role("link", name="Email provider A").click()
    page.get_by_label("Name", exact=True).fill("Production Email")
    page.get_by_label("From email").fill("noreply@acme.example")
    page.get_by_label("From name").fill("Acme Legal")
    page.get_by_label("API key").fill("re_browser_test_key_0123456789")
    page.get_by_label("Use as the site email provider").check()
    shoot(page, "03-settings-add-email-provider")
    page.get_by_role("button", name="Add integration").click()
    expect(page.locator(".message.success")).to_contain_text("Added Production Email.")
    expect(page.locator(".integration")).to_contain_text(fingerprint_for("re_browser_test_key_0123456789"))
    assert "re_browser_test_key_0123456789" not in page.content()

    # Check the connection, then send a test email; both go to the fake provider.
    page.get_by_role("button", name="Check connection").click()
    expect(page.locator(".message.success")).to_contain_text("5 templates found: Welcome Email")
    page.get_by_label("Send a test email to").fill("ada@example.com")
    page.get_by_role("button", name="Send test email").click()
    expect(page.locator(".message.success")).to_contain_text("Test email to ada@example.com delivered.")
    shoot(page, "04-settings-integrations")
    sent = fake_provider.RequestHandlerClass.state.sent
    assert [message["body"]["to"] for message in sent] == [["ada@example.com"]]

    # Tables -> Integrations lists its Email Log with one row; the log shows the delivered email.
    page.get_by_role("link", name="Tables", exact=True).click()
    row = page.locator("table.data tbody tr", has_text="Production Email")
    expect(row).to_contain_text("Email provider A")
    expect(row.locator("td.num")).to_have_text("1")
    shoot(page, "05-tables-integrations")
    row.get_by_role("link", name="Email Log").click()
    log_row = page.locator("table.log tbody tr").first
    expect(log_row).to_contain_text("ada@example.com")
    expect(log_row).to_contain_text("delivered")
    expect(log_row).to_contain_text(sent[0]["messageId"])


def test_a_busy_log_filters_pages_and_exports(page, owner, fake_provider):
    from playwright.sync_api import expect

    from integrations.services import create_integration

    integration = create_integration(
        owner.workspace, name="Production Email", type="EMAIL_PROVIDER",
        config={"fromEmail": "noreply@acme.example"}, credentials={"apiKey": "re_browser_key_2_0123456789"},
    )  # fmt: skip
    table = Table.objects.get(integration=integration)
    add_rows(table, 100)
    add_rows(table, 7, start=timezone.now() - timedelta(hours=1), status=EmailStatus.FAILED, source=EmailSource.FORM_SEND, subject="Form copy", error="Mailbox full")

    log_in(page, "owner@acme.example")
    page.goto(f"/tables/{table.pk}/")
    expect(page.locator("table.log thead th")).to_have_count(13)
    expect(page.locator("table.log tbody tr")).to_have_count(50)
    expect(page.locator("table.log tbody tr.status-failed").first).to_contain_text("Mailbox full")
    shoot(page, "06-email-log")

    # Older, then newer: the first page again.
    first_subject = page.locator("table.log tbody tr").first.inner_text()
    page.get_by_role("link", name="Older →").click()
    expect(page.locator("table.log tbody tr")).to_have_count(50)
    page.get_by_role("link", name="Older →").click()
    expect(page.locator("table.log tbody tr")).to_have_count(7)
    expect(page.get_by_text("Older →")).to_have_attribute("aria-disabled", "true")
    page.get_by_role("link", name="← Newer").click()
    page.get_by_role("link", name="← Newer").click()
    assert page.locator("table.log tbody tr").first.inner_text() == first_subject

    # Filter to failed Form Send emails, then search.
    page.get_by_label("Status").select_option("failed")
    page.get_by_label("Source").select_option("Form Send")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.log tbody tr")).to_have_count(7)
    shoot(page, "07-email-log-filtered")

    # The CSV download carries the same filter.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.reader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert rows[0][:5] == ["Sent At", "To", "From", "Subject", "Status"]
    assert len(rows) == 8 and {row[4] for row in rows[1:]} == {"failed"}

    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Search To or Subject").fill("client42@")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.log tbody tr")).to_have_count(1)
    expect(page.locator("table.log tbody tr")).to_contain_text("client42@example.com")
    assert EmailLogEntry.objects.filter(table=table).count() == 107  # reading changed nothing


def test_a_member_sees_settings_read_only(page, owner):
    from playwright.sync_api import expect

    from integrations.services import create_integration

    create_integration(
        owner.workspace, name="Production Email", type="EMAIL_PROVIDER",
        config={"fromEmail": "noreply@acme.example"}, credentials={"apiKey": "re_member_view_key_0123456789"},
    )  # fmt: skip
    add_member(owner.workspace, "member@acme.example", Role.MEMBER, password=PASSWORD)
    log_in(page, "member@acme.example")
    page.goto("/settings/integrations/")

    expect(page.get_by_text("you can see its integrations; owners and admins change them")).to_be_visible()
    expect(page.locator(".integration")).to_contain_text(fingerprint_for("re_member_view_key_0123456789"))
    expect(page.get_by_role("link", name="Add an integration")).to_have_count(0)
    expect(page.locator(".integration button, .integration .button")).to_have_count(0)
    shoot(page, "08-settings-member-read-only")


def test_an_email_opens_from_the_log_with_its_timeline_and_its_address_is_suppressed(page, owner):
    from playwright.sync_api import expect

    from email_logs.models import EmailEvent, EventType
    from integrations.services import create_integration

    integration = create_integration(
        owner.workspace, name="Production Email", type="EMAIL_PROVIDER",
        config={"fromEmail": "noreply@acme.example"}, credentials={"apiKey": "re_email_page_key_0123456789"},
    )  # fmt: skip
    table = Table.objects.get(integration=integration)
    add_rows(table, 3)
    (bounced,) = add_rows(
        table, 1, to="ada@example.com", subject="Engagement letter", status=EmailStatus.FAILED,
        error="Bounced: ada@example.com - 550 5.1.1 mailbox unavailable",
    )  # fmt: skip
    sent = bounced.sent_at
    EmailEvent.objects.bulk_create(
        EmailEvent(entry=bounced, integration=integration, provider_event_id=f"evt-{i}", type=kind,
                   recipient=recipient, occurred_at=sent + timedelta(seconds=10 * (i + 1)), detail=detail)
        for i, (kind, recipient, detail) in enumerate([
            (EventType.ACCEPTED, "", ""),
            (EventType.BOUNCED, "ada@example.com", "bounce: 550 5.1.1 mailbox unavailable"),
        ])
    )  # fmt: skip

    log_in(page, "owner@acme.example")
    page.goto(f"/tables/{table.pk}/")
    log_row = page.locator("table.log tbody tr", has_text="Engagement letter")
    log_row.get_by_role("link", name="Engagement letter").click()

    expect(page.get_by_role("heading", name="Engagement letter")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("550 5.1.1 mailbox unavailable")
    timeline = page.locator("ol.timeline li")
    expect(timeline).to_have_count(3)  # logged, accepted, bounced: oldest first
    expect(timeline.nth(1)).to_contain_text("accepted")
    expect(timeline.nth(2)).to_contain_text("bounced")
    expect(timeline.nth(2)).to_contain_text("ada@example.com")
    expect(page.locator(".email-values dt")).to_have_count(14)  # the 13 values and the provider calls
    shoot(page, "09-email-page")

    # Settings -> Suppressions: suppress the address, then take it off the list again.
    page.get_by_role("link", name="Settings · Suppressions").click()
    page.get_by_label("Suppress an address").fill("Ada@Example.com")
    page.get_by_role("button", name="Suppress", exact=True).click()
    expect(page.locator(".message.success")).to_contain_text("Suppressed ada@example.com")
    expect(page.locator("table.data tbody tr")).to_contain_text("manual")
    shoot(page, "10-suppressions")
    page.get_by_role("button", name="Remove ada@example.com").click()
    expect(page.locator(".message.success")).to_contain_text("Removed ada@example.com")
    expect(page.get_by_role("heading", name="No suppressed addresses")).to_be_visible()
