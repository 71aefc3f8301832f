"""In a real browser: render a test document from Settings · Integrations (the local fake of Carbone answers), find
it in the Document Log from the Tables page, open its page and download it. Every page passes axe-core."""

import pytest

from documents.models import Document
from integrations.services import create_integration
from opbox.tests.browser import assert_accessible, log_in, shoot
from scripts.fake_providers import serve_in_thread
from workspaces.models import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fake_carbone(settings, owner):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True  # the fake listens on loopback
    server, url = serve_in_thread()
    workspace = Workspace.objects.get(slug="acme")
    engine = create_integration(workspace, name="Carbone", type="DOCUMENT_ENGINE", config={"baseUrl": f"{url}/carbone"},
                                credentials={"apiKey": "carbone-browser-key"})  # fmt: skip
    yield engine
    server.shutdown()
    server.server_close()


def test_render_a_test_document_open_it_from_the_document_log_and_download_it(page, owner, fake_carbone, tmp_path):
    from playwright.sync_api import expect

    log_in(page, "owner@acme.example")
    page.goto("/settings/integrations/")
    page.get_by_role("link", name="Render a test document").click()
    expect(page.get_by_role("heading", name="Render a test document")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Template").select_option(label="Invoice (tpl-invoice)")
    page.get_by_label("Format").select_option("pdf")
    page.get_by_role("button", name="Render test document").click()
    expect(page.locator(".message.success")).to_contain_text("Rendered tpl-invoice.pdf (102,400 bytes).")
    shoot(page, "30-test-document-rendered")
    assert_accessible(page)
    document = Document.objects.get()
    assert document.size == 100 * 1024

    page.goto("/tables/")
    page.get_by_role("link", name="Document Log").first.click()
    expect(page.get_by_role("cell", name="generated")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="tpl-invoice.pdf").click()
    expect(page.get_by_role("heading", name="tpl-invoice.pdf")).to_be_visible()
    shoot(page, "31-document-page")
    assert_accessible(page)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download tpl-invoice.pdf").click()
    download = download_info.value
    assert download.suggested_filename == "tpl-invoice.pdf"
    saved = tmp_path / "downloaded.pdf"
    download.save_as(saved)
    assert saved.stat().st_size == 100 * 1024
    assert saved.read_bytes().startswith(b"%PDF-1.7")
