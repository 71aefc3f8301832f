import os

import pytest

from deliveries.models import Delivery
from documents.tests.factories import add_document
from email_logs.events.suppressions import record_suppressions
from email_logs.models import SuppressionReason
from email_logs.tests.factories import add_rows
from tables.models import SystemType, Table
from workspaces.models import Role, WorkspaceEvent
from workspaces.services import add_member, create_workspace

from .browser import CHROMIUM, PASSWORD

DOCUMENT_ENGINE_URL = "https://carbone.acme.example"  # the test engine's baseUrl (mocked with `responses`)


@pytest.fixture
def objects(make_integration, other_workspace):
    """Ids of an email integration (and so of its Email Log table) in the workspace and in another one.

    The workspace also has a provider-B integration, so both template routes answer 200.
    """
    own = make_integration("EMAIL_PROVIDER", set_as_site_email_provider=True)
    make_integration("EMAIL_PROVIDER_ALT")
    other = make_integration("EMAIL_PROVIDER", in_workspace=other_workspace, set_as_site_email_provider=True)
    engines = {
        whose: make_integration("DOCUMENT_ENGINE", in_workspace=ws, config={"baseUrl": DOCUMENT_ENGINE_URL}, credentials={"apiKey": "carbone_test_key"})
        for whose, ws in (("own", own.workspace), ("other", other_workspace))
    }
    ids = {}
    for whose, integration in (("own", own), ("other", other)):
        table = Table.objects.get(integration=integration)
        (email,) = add_rows(table, 1)
        # An email row (its page is keyed by table and row) and a suppressed address, distinct per workspace.
        address = f"{whose}-bounced@example.com"
        record_suppressions(table.workspace_id, [(address, SuppressionReason.BOUNCED, email.pk)])
        document = add_document(engines[whose], email_id=email.pk)
        ids[whose] = {"integration": integration.pk, "table": table.pk, "email": email.pk, "row": email.pk, "suppression": address,
                      "document": document.pk, "document_table": document.table_id, "engine": engines[whose].pk}  # fmt: skip
        # A webhook (so a Delivery Log table) with one failed delivery of an email.failed event.
        webhook = make_integration("WEBHOOK", in_workspace=table.workspace)
        event = WorkspaceEvent.objects.create(workspace=table.workspace, type="email.failed", data={"id": email.pk, "tableId": table.pk})
        delivery = Delivery.objects.create(
            workspace=table.workspace, integration=webhook, event=event, event_type=event.type, email_id=email.pk,
            status="failed", attempts=1, round_attempts=1, response="500", error="HTTP 500",
        )  # fmt: skip
        log = Table.objects.get(integration=webhook, system_type=SystemType.DELIVERY_LOG)
        ids[whose].update({"delivery_table": log.pk, "delivery": delivery.pk})
    return ids


# Browser tests ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium(unavailable):
    if not os.path.exists(CHROMIUM):
        unavailable(f"Debian's chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make between browser
    # steps (and their database teardown) are plain synchronous calls, which Django would otherwise refuse
    # next to a loop. Allowed only while the browser runs, and the environment restored after, even on error.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            yield browser
            browser.close()


@pytest.fixture
def owner():
    """The owner of a fresh workspace, who logs in with the browser tests' password."""
    workspace = create_workspace("acme", "Acme Legal")
    return add_member(workspace, "owner@acme.example", Role.OWNER, password=PASSWORD)


@pytest.fixture
def viewport():
    return {"width": 1360, "height": 900}


@pytest.fixture
def page(chromium, live_server, viewport):
    """A page of a fresh browser context on the live server. Every Content-Security-Policy violation the
    browser reports in its console fails the test (a test that provokes one on purpose clears the list)."""
    context = chromium.new_context(base_url=live_server.url, viewport=viewport, accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.csp_violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and page.csp_violations.append(message.text))
    yield page
    context.close()
    assert not page.csp_violations, f"the browser reported Content-Security-Policy violations: {page.csp_violations}"
