"""In a real browser: add a Slack integration, press "Test" before saving and read the sentence (the local fake of
Slack's Web API answers), then save it and check it from the list. Every page visited passes axe-core with zero
violations."""

import pytest

from integrations.models import Integration
from opbox.tests.browser import assert_accessible, log_in, shoot
from scripts.fake_providers import serve_in_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fake_slack(settings):
    server, url = serve_in_thread()
    settings.SLACK_API_URL = f"{url}/slack/api"
    yield server
    server.shutdown()
    server.server_close()


def test_test_before_saving_shows_the_sentence_and_saves_nothing(page, owner, fake_slack):
    from playwright.sync_api import expect

    log_in(page, "owner@acme.example")
    page.goto("/settings/integrations/new/?type=SLACK")
    assert_accessible(page)
    page.get_by_label("Name", exact=True).fill("Alerts")
    page.get_by_label("Channel").fill("C0123ALERTS")
    page.get_by_label("Bot token").fill("xoxb-browser-test-token")

    page.get_by_role("button", name="Test").click()

    result = page.locator("#test-result")
    expect(result).to_contain_text("Test passed: Posting as @opbox in #alerts.")
    expect(result).to_contain_text("Nothing was saved.")
    assert not Integration.objects.exists()
    assert page.get_by_label("Bot token").input_value() == "xoxb-browser-test-token"  # what was typed stays
    shoot(page, "10-settings-test-before-saving")
    assert_accessible(page)

    # A channel the bot is not in: the sentence says what to do.
    page.get_by_label("Channel").fill("C0PRIVATE1")
    page.get_by_role("button", name="Test").click()
    expect(result).to_contain_text("Test failed: @opbox is not a member of #partners: invite the bot to the channel")
    assert_accessible(page)

    page.get_by_label("Channel").fill("C0123ALERTS")
    page.get_by_role("button", name="Add integration").click()
    expect(page.locator(".message.success")).to_contain_text("Added Alerts.")
    page.get_by_role("button", name="Check connection").click()
    expect(page.locator(".message.success")).to_contain_text("Alerts: connection check passed. Posting as @opbox in #alerts.")
    expect(page.locator(".integration .check-detail")).to_have_text("Posting as @opbox in #alerts.")
    shoot(page, "11-settings-last-check")
    assert_accessible(page)
