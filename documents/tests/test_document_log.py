"""The Document Log: a system table per DOCUMENT_ENGINE integration (init endpoint, signal), its columns in §14's
order, rows through the tables API with filters, search and CSV, its row page, and retention of rows and files."""

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from documents.models import Document
from documents.tests.conftest import PDF, carbone_render
from tables.models import Table
from workspaces.services import set_email_log_retention

COLUMNS = ["Generated At", "Template ID", "Filename", "Format", "Status", "Size", "Source", "Error", "Email ID"]
BODY = {"templateId": "tpl-letter", "data": {"n": 1}, "filename": "letter.pdf"}


def document_log(engine) -> Table:
    return Table.objects.get(integration=engine, system_type="DOCUMENT_LOG")


def test_saving_a_document_engine_creates_its_document_log_with_columns_in_order(engine, member_api):
    table = document_log(engine)
    assert table.name == "Document Log"
    detail = member_api.get(f"/api/tables/{table.pk}").json()
    assert detail["systemType"] == "DOCUMENT_LOG"
    assert [column["name"] for column in detail["columns"]] == COLUMNS
    assert [column["type"] for column in detail["columns"]] == ["Date", "Text", "Text", "Text", "Text", "Number", "Text", "Text", "Text"]


def test_init_returns_document_logs_beside_email_logs_and_is_idempotent(admin_api, engine, make_integration):
    make_integration("EMAIL_PROVIDER")
    Table.objects.filter(system_type="DOCUMENT_LOG").delete()
    first = admin_api.post("/api/tables/integration/init").json()
    second = admin_api.post("/api/tables/integration/init").json()
    assert first == second
    assert [table["systemType"] for table in first["tables"]] == ["EMAIL_LOG", "DOCUMENT_LOG"]
    assert Table.objects.filter(system_type="DOCUMENT_LOG").count() == 1


def test_a_disabled_engine_gets_no_table_and_keeps_an_existing_one(workspace, engine):
    from integrations.services import create_integration

    disabled = create_integration(workspace, name="Off", type="DOCUMENT_ENGINE", config={"baseUrl": "https://c.example"},
                                  credentials={"apiKey": "k"}, enabled=False)  # fmt: skip
    assert not Table.objects.filter(integration=disabled).exists()
    engine.enabled = False
    engine.save()
    assert document_log(engine)


def test_rows_filters_search_and_csv(member_api, engine, mock):
    carbone_render(mock)
    carbone_render(mock, template_id="tpl-invoice")
    carbone_render(mock, template_id="tpl-missing", status=404, json={"success": False, "error": "Template not found"})
    member_api.post("/api/documents", BODY, format="json")
    member_api.post("/api/documents", {"templateId": "tpl-invoice", "data": {}, "convertTo": "docx", "source": "Form Send"}, format="json")
    member_api.post("/api/documents", {"templateId": "tpl-missing", "data": {}}, format="json")
    table = document_log(engine)
    rows = member_api.get(f"/api/tables/{table.pk}/rows").json()["results"]
    assert [row["values"]["Template ID"] for row in rows] == ["tpl-missing", "tpl-invoice", "tpl-letter"]
    assert list(rows[0]["values"]) == COLUMNS
    assert rows[2]["values"]["Size"] == len(PDF)

    def ids(query):
        return [row["values"]["Template ID"] for row in member_api.get(f"/api/tables/{table.pk}/rows?{query}").json()["results"]]

    assert ids("status=failed") == ["tpl-missing"]
    assert ids("convertTo=docx") == ["tpl-invoice"]
    assert ids("source=Form%20Send") == ["tpl-invoice"]
    assert ids("q=letter") == ["tpl-letter"]  # the filename
    assert ids("q=INVOICE") == ["tpl-invoice"]  # the template id
    assert member_api.get(f"/api/tables/{table.pk}/rows?convertTo=exe").status_code == 400
    csv = b"".join(member_api.get(f"/api/tables/{table.pk}/rows.csv").streaming_content).decode().splitlines()
    assert csv[0] == ",".join(COLUMNS)
    assert len(csv) == 4
    assert "Template not found" in csv[1]


def test_tables_page_lists_the_document_log_and_its_rows_link_their_page(pages_as, engine, mock, member_api):
    carbone_render(mock)
    document = member_api.post("/api/documents", BODY, format="json").json()
    browser = pages_as("MEMBER")
    index = browser.get("/tables/").content.decode()
    table = document_log(engine)
    assert "Document Log" in index and f"/tables/{table.pk}/" in index
    view = browser.get(f"/tables/{table.pk}/").content.decode()
    assert f"/tables/{table.pk}/documents/{document['id']}/" in view
    page = browser.get(f"/tables/{table.pk}/documents/{document['id']}/")
    assert page.status_code == 200
    assert f"/documents/{document['id']}/download/" in page.content.decode()
    download = browser.get(f"/documents/{document['id']}/download/")
    assert download["Content-Disposition"] == 'attachment; filename="letter.pdf"'
    assert b"".join(download.streaming_content) == PDF


def test_another_workspace_sees_no_page_nor_file(pages_as, other_workspace, engine, mock, member_api):
    carbone_render(mock)
    document = member_api.post("/api/documents", BODY, format="json").json()
    stranger = pages_as("OWNER", other_workspace)
    assert stranger.get(f"/tables/{document['tableId']}/documents/{document['id']}/").status_code == 404
    assert stranger.get(f"/documents/{document['id']}/download/").status_code == 404


def test_retention_purges_old_rows_and_their_files(workspace, engine, mock, member_api, document_folder):
    for _ in range(3):
        carbone_render(mock)
    created = [member_api.post("/api/documents", BODY, format="json").json()["id"] for _ in range(3)]
    old = Document.objects.filter(pk__in=created[:2])
    old_files = [document_folder / document.storage_name for document in old]
    assert all(path.exists() for path in old_files)
    old.update(generated_at=timezone.now() - timedelta(days=40))
    set_email_log_retention(workspace, 30)
    call_command("purge_documents", "--dry-run", stdout=open("/dev/null", "w"))
    assert Document.objects.count() == 3
    call_command("purge_documents", stdout=open("/dev/null", "w"))
    assert list(Document.objects.values_list("pk", flat=True)) == [created[2]]
    assert not any(path.exists() for path in old_files)
    assert (document_folder / Document.objects.get().storage_name).exists()


def test_workspaces_that_keep_everything_keep_their_documents(workspace, engine, mock, member_api):
    carbone_render(mock)
    member_api.post("/api/documents", BODY, format="json")
    Document.objects.update(generated_at=timezone.now() - timedelta(days=4000))
    call_command("purge_documents", stdout=open("/dev/null", "w"))
    assert Document.objects.count() == 1

