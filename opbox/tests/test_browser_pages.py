"""Pages in a real browser under the Content-Security-Policy: the API docs and Django admin still work, a slip
in escaping would not run a script, and the small things seen in a browser (the navigation on a phone, the
retention field, the webhook URL on an email integration's edit page). Every test here fails on a CSP
violation reported in the console (conftest.page); our own pages also pass axe-core."""

import pytest

from integrations.services import create_integration
from opbox.tests.browser import PASSWORD, assert_accessible, log_in, shoot
from workspaces.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff_owner(owner):
    """The owner, also platform staff: the navigation shows its longest form (with Admin)."""
    User.objects.filter(pk=owner.user_id).update(is_staff=True, is_superuser=True)
    return owner


def test_the_api_docs_work_under_the_policy(page):
    from playwright.sync_api import expect

    page.goto("/api/docs/")

    expect(page.get_by_role("heading", name="Opbox Integrations API")).to_be_visible()
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 20
    page.locator(".opblock-summary", has_text="/api/integrations/stats").first.click()
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    shoot(page, "20-api-docs")


def test_django_admin_works_under_the_policy(page, staff_owner):
    from playwright.sync_api import expect

    page.goto("/admin/")
    page.get_by_label("Email").fill("owner@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#integrations-integration")).to_be_visible()  # the admin index lists the model

    page.goto("/admin/integrations/integration/add/")
    page.get_by_role("link", name="Email provider A").click()
    page.get_by_label("Workspace").select_option(value=str(staff_owner.workspace_id))
    page.locator("#id_name").fill("Admin-made Email")
    page.locator("#id_config_fromEmail").fill("noreply@acme.example")
    page.locator("#id_credential_apiKey").fill("re_admin_browser_key_0123456789")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("Admin-made Email")
    page.get_by_role("link", name="Admin-made Email", exact=True).click()
    expect(page.get_by_text("re_admin_browser_key_0123456789")).to_have_count(0)
    page.get_by_role("link", name="Delete", exact=True).click()
    page.get_by_role("button", name="Yes, I’m sure").click()
    expect(page.locator(".messagelist")).to_contain_text("deleted")
    shoot(page, "21-admin")


def test_a_slip_in_escaping_would_not_run_a_script(page, owner):
    """As if a subject or a provider's error reached a page unescaped: the policy blocks its inline handler."""
    log_in(page, "owner@acme.example")
    page.evaluate(
        """document.querySelector("main").insertAdjacentHTML(
            "beforeend", '<button id="slip" onclick="window.ranInjectedScript = true">Injected</button>')"""
    )

    page.locator("#slip").click()

    assert page.evaluate("window.ranInjectedScript === undefined")
    assert any("inline event handler" in text for text in page.csp_violations), page.csp_violations
    page.csp_violations.clear()  # the one violation provoked here on purpose


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}])
def test_the_navigation_fits_a_390_px_phone(page, staff_owner):
    from playwright.sync_api import expect

    log_in(page, "owner@acme.example")

    width = page.evaluate("document.documentElement.scrollWidth")
    admin = page.get_by_role("link", name="Admin", exact=True)
    expect(admin).to_be_visible()
    box = admin.bounding_box()
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    for name in ("Tables", "Settings · Integrations", "Settings · Workspace", "Settings · Suppressions"):
        link = page.get_by_role("link", name=name, exact=True).bounding_box()
        assert link["x"] + link["width"] <= 390, name
    shoot(page, "22-navigation-390px")
    assert_accessible(page)


def _field_style(page, selector):
    return page.evaluate(
        """(selector) => {
            const style = getComputedStyle(document.querySelector(selector));
            return ["borderTopWidth", "borderTopStyle", "borderTopColor", "borderRadius", "paddingLeft", "paddingTop",
                    "fontSize", "fontFamily", "backgroundColor"].map((name) => style[name]);
        }""",
        selector,
    )


def test_the_retention_field_looks_like_every_other_field(page, owner):
    log_in(page, "owner@acme.example")
    page.goto("/settings/integrations/new/?type=EMAIL_PROVIDER")
    text_field = _field_style(page, "#id_name")

    page.goto("/settings/workspace/")

    assert _field_style(page, "input[name='email_log_retention_days']") == text_field
    shoot(page, "23-workspace-settings")
    assert_accessible(page)


def test_the_edit_page_of_an_email_integration_shows_its_webhook_url(page, owner, live_server):
    from playwright.sync_api import expect

    integration = create_integration(
        owner.workspace, name="Production Email", type="EMAIL_PROVIDER",
        config={"fromEmail": "noreply@acme.example"}, credentials={"apiKey": "re_edit_page_key_0123456789"},
    )  # fmt: skip
    log_in(page, "owner@acme.example")
    page.goto("/settings/integrations/")
    listed = page.locator(f"#integration-{integration.pk} .webhook-url").inner_text()

    page.locator(f"#integration-{integration.pk}").get_by_role("link", name="Edit").click()

    expect(page.locator(".webhook-url")).to_have_text(listed)
    assert listed == f"{live_server.url}/api/webhooks/email-provider-a/{integration.pk}"
    shoot(page, "24-edit-email-integration")
    assert_accessible(page)
