"""Documents as email attachments (SPEC §14): validated at intake, rendered once before the provider call, the same
stored bytes on every retry and after a crash, and a render failure fails the email without calling the provider."""

import base64
import json
from datetime import timedelta

import pytest
import responses
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from documents.models import Document
from documents.tests.conftest import carbone_render_breaking
from email_logs.models import EmailLogEntry, OutboundEmail
from integrations.services import create_integration

from .conftest import PROVIDER_A

# Real commits: a send runs when its transaction commits (on_commit), as it does in production.
pytestmark = pytest.mark.django_db(transaction=True)

CARBONE = "https://carbone.acme.example"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"%%EOF"
LETTER = {"filename": "letter.pdf", "document": {"templateId": "tpl-letter", "data": {"client": "Ada"}, "convertTo": "pdf"}}
EMAIL = {"to": "client@example.com", "subject": "Your engagement letter", "text": "Attached.", "attachments": [LETTER]}


@pytest.fixture(autouse=True)
def document_folder(tmp_path, settings):
    folder = tmp_path / "documents"
    settings.STORAGES = {**settings.STORAGES, "documents": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(folder)}}}
    return folder


@pytest.fixture
def engine(workspace):
    return create_integration(workspace, name="Carbone", type="DOCUMENT_ENGINE", config={"baseUrl": CARBONE},
                              credentials={"apiKey": "carbone_attach_key_0123"})  # fmt: skip


def carbone(mock, status=200, **answer):
    if status == 200:
        return mock.add(responses.POST, f"{CARBONE}/render/tpl-letter", body=PDF, content_type="application/pdf")
    return mock.add(responses.POST, f"{CARBONE}/render/tpl-letter", status=status, json=answer)


def renders(mock) -> int:
    return sum(1 for call in mock.calls if "/render/" in call.request.url)


def provider_calls(mock) -> list[dict]:
    return [json.loads(call.request.body) for call in mock.calls if call.request.url == f"{PROVIDER_A}/emails"]


def test_the_provider_receives_exactly_the_rendered_bytes_base64(member_api, site_provider_a, engine, provider):
    carbone(provider)
    provider.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "m-1"})
    response = member_api.post("/api/emails", EMAIL, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["values"]["Attachments"] == 1
    (sent,) = provider_calls(provider)
    assert sent["attachments"] == [{"filename": "letter.pdf", "content": base64.b64encode(PDF).decode(), "content_type": "application/pdf"}]
    document = Document.objects.get()
    assert (document.status, document.email_id, document.size, document.source) == ("generated", response.json()["id"], len(PDF), "Workflow Email")
    assert json.loads(provider.calls[0].request.body) == {"data": {"client": "Ada"}, "convertTo": "pdf"}


def test_a_provider_5xx_and_its_retry_render_once(member_api, site_provider_a, engine, provider):
    carbone(provider)
    provider.add(responses.POST, f"{PROVIDER_A}/emails", status=500, json={"message": "internal"})
    provider.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "m-2"})
    response = member_api.post("/api/emails", EMAIL, format="json")
    assert response.json()["values"]["Status"] == "delivered"
    assert renders(provider) == 1
    first, second = provider_calls(provider)
    assert first["attachments"] == second["attachments"]
    assert base64.b64decode(second["attachments"][0]["content"]) == PDF
    assert Document.objects.count() == 1


class ProcessDied(SystemExit):
    """Raised where the process would have been killed; nothing of ours catches it."""


def _die_recording_the_attempt(execute, sql, params, many, context):
    # After the render committed, just before the provider call: the attempt is recorded right before it.
    if sql.lstrip().upper().startswith("UPDATE") and "email_logs_outboundemail" in sql and "attempts" in sql:
        raise ProcessDied("killed after the render, before the provider call")
    return execute(sql, params, many, context)


def test_a_worker_dying_after_the_render_resends_without_rendering_again(workspace, site_provider_a, engine):
    from email_logs.api.serializers import SendEmailSerializer
    from email_logs.models import EmailSource
    from email_logs.sending.intake import send_email

    serializer = SendEmailSerializer(data=EMAIL)
    assert serializer.is_valid(), serializer.errors
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        carbone(mock)
        mock.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "m-3"})
        with connection.execute_wrapper(_die_recording_the_attempt):
            send_email(workspace, serializer.message(), source=EmailSource.WORKFLOW_EMAIL)
        entry = EmailLogEntry.objects.get()
        assert entry.status == "queued" and renders(mock) == 1 and not provider_calls(mock)
        assert Document.objects.get().email_id == entry.pk
        assert OutboundEmail.objects.get().payload["attachments"][0]["documentId"] == Document.objects.get().pk

        OutboundEmail.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        EmailLogEntry.objects.update(sent_at=timezone.now() - timedelta(hours=1))
        call_command("resolve_inflight_emails", "--older-than", "15")

        assert renders(mock) == 1  # the resend attached the stored bytes
        (sent,) = provider_calls(mock)
    assert base64.b64decode(sent["attachments"][0]["content"]) == PDF
    entry.refresh_from_db()
    assert entry.status == "delivered"
    assert Document.objects.count() == 1


def test_a_render_failure_fails_the_email_and_the_provider_is_not_called(member_api, site_provider_a, engine, provider):
    carbone(provider, status=404, success=False, error="Template not found")
    response = member_api.post("/api/emails", EMAIL, format="json")
    assert response.status_code == 422
    row = response.json()["row"]
    assert row["values"]["Status"] == "failed"
    assert row["values"]["Error"].startswith("Document letter.pdf: ")
    assert "Template not found" in row["values"]["Error"]
    assert not provider_calls(provider)
    document = Document.objects.get()
    assert (document.status, document.email_id) == ("failed", row["id"])
    assert EmailLogEntry.objects.get().attempts == 0


def test_a_render_cut_off_mid_file_fails_the_email_and_the_provider_is_not_called(member_api, site_provider_a, engine, provider):
    carbone_render_breaking(provider, ConnectionResetError("reset by peer"), template_id="tpl-letter")
    response = member_api.post("/api/emails", EMAIL, format="json")
    assert response.status_code == 422
    row = response.json()["row"]
    assert (row["values"]["Status"], row["values"]["Error"][:21]) == ("failed", "Document letter.pdf: ")
    assert "broke off" in row["values"]["Error"]
    assert not provider_calls(provider)
    assert Document.objects.get().status == "failed"


def test_no_document_engine_fails_the_email_unsent(member_api, site_provider_a, provider):
    response = member_api.post("/api/emails", EMAIL, format="json")
    assert response.status_code in (409, 422), response.content
    assert not provider_calls(provider)


@pytest.mark.parametrize("attachment, problem", [
    ({"filename": "a.pdf", "document": {"templateId": "../x", "data": {}}}, "templateId"),
    ({"filename": "a.pdf", "document": {"templateId": "tpl", "data": [1]}}, "data"),
    ({"filename": "a.pdf", "document": {"templateId": "tpl", "data": {}, "convertTo": "exe"}}, "convertTo"),
    ({"filename": "a.pdf", "document": {"templateId": "tpl", "data": {"x": "y" * (1024 * 1024)}}}, "data"),
    ({"filename": "a.pdf"}, "content"),
    ({"filename": "a.pdf", "content": "aGk=", "document": {"templateId": "tpl", "data": {}}}, "content"),
])  # fmt: skip
def test_intake_validates_document_attachments_and_writes_nothing(member_api, site_provider_a, engine, attachment, problem):
    response = member_api.post("/api/emails", {**EMAIL, "attachments": [attachment]}, format="json")
    assert response.status_code == 400
    assert problem in json.dumps(response.json())
    assert not EmailLogEntry.objects.exists() and not Document.objects.exists()


def test_the_emails_page_links_its_rendered_document_and_the_document_page_links_the_email(
    member_api, pages_as, site_provider_a, engine, provider
):
    carbone(provider)
    provider.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "m-4"})
    row = member_api.post("/api/emails", EMAIL, format="json").json()
    row["tableId"] = EmailLogEntry.objects.get().table_id
    document = Document.objects.get()
    browser = pages_as("MEMBER")
    email_page = browser.get(f"/tables/{row['tableId']}/rows/{row['id']}/").content.decode()
    assert f"/tables/{document.table_id}/documents/{document.pk}/" in email_page
    assert "letter.pdf" in email_page
    document_page = browser.get(f"/tables/{document.table_id}/documents/{document.pk}/").content.decode()
    assert f"/tables/{row['tableId']}/rows/{row['id']}/" in document_page


def test_on_a_worker_a_5xx_and_the_scheduled_retry_render_once(workspace, site_provider_a, engine, provider, settings):
    from django_tasks_db.models import DBTaskResult

    from email_logs import tasks
    from email_logs.api.serializers import SendEmailSerializer
    from email_logs.models import EmailSource
    from email_logs.sending.intake import send_email

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    carbone(provider)
    provider.add(responses.POST, f"{PROVIDER_A}/emails", status=503, json={"message": "unavailable"})
    provider.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "m-5"})
    serializer = SendEmailSerializer(data=EMAIL)
    assert serializer.is_valid(), serializer.errors
    entry = send_email(workspace, serializer.message(), source=EmailSource.WORKFLOW_EMAIL)
    for _ in range(3):  # the first run fails and schedules the retry; let its time come, run again
        call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")
        DBTaskResult.objects.filter(task_path=tasks.deliver_emails.module_path, status="READY").update(run_after=timezone.now())
    entry.refresh_from_db()
    assert entry.status == "delivered"
    assert renders(provider) == 1
    first, second = provider_calls(provider)
    assert first["attachments"] == second["attachments"]
    assert base64.b64decode(second["attachments"][0]["content"]) == PDF


@pytest.mark.postgres
def test_a_worker_sigkilled_after_the_render_resends_without_rendering_again(workspace, site_provider_a, settings, tmp_path):
    """A real `db_worker` process renders the document through the fake Carbone, records its attempt, calls a
    provider that never answers, and is SIGKILLed there. The in-flight sweep resends the email with the stored
    bytes: Carbone was called once."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import requests
    from django.conf import settings as django_settings

    from email_logs.api.serializers import SendEmailSerializer
    from email_logs.models import EmailSource
    from email_logs.sending.intake import send_email
    from scripts.fake_providers import serve_in_thread

    fake, fake_url = serve_in_thread()
    silent = socket.socket()  # a provider that accepts the connection and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    folder = tmp_path / "shared-documents"
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.STORAGES = {**settings.STORAGES, "documents": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(folder)}}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    create_integration(workspace, name="Carbone", type="DOCUMENT_ENGINE", config={"baseUrl": f"{fake_url}/carbone"}, credentials={"apiKey": "carbone-kill-key"})
    db = connection.settings_dict
    environ = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "opbox.settings_test", "TASKS_BACKEND": "database",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "EMAIL_PROVIDER_A_API_URL": f"http://127.0.0.1:{silent.getsockname()[1]}", "EMAIL_PROVIDER_TIMEOUT": "120",
        "OUTBOUND_ALLOW_PRIVATE_NETWORKS": "true", "DOCUMENT_STORAGE_ROOT": str(folder),
    }  # fmt: skip
    serializer = SendEmailSerializer(data=EMAIL)
    assert serializer.is_valid(), serializer.errors
    entry = send_email(workspace, serializer.message(), source=EmailSource.WORKFLOW_EMAIL)
    worker = subprocess.Popen([sys.executable, "manage.py", "db_worker", "--interval", "0.1", "--no-startup-delay", "--verbosity", "0"],
                              cwd=django_settings.BASE_DIR, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # rendered, and its attempt recorded: it is in the provider call
            if Document.objects.filter(email_id=entry.pk).exists() and OutboundEmail.objects.filter(pk=entry.pk, attempts=1).exists():
                break
            time.sleep(0.05)
        else:
            pytest.fail("the worker never reached the provider call")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        silent.close()
    document = Document.objects.get()
    assert document.status == "generated" and OutboundEmail.objects.get().payload["attachments"][0]["documentId"] == document.pk

    settings.EMAIL_PROVIDER_A_API_URL = PROVIDER_A
    with responses.RequestsMock() as mock:  # any render now would be an unmatched call, failing the email
        mock.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "after-the-kill"})
        OutboundEmail.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        EmailLogEntry.objects.update(sent_at=timezone.now() - timedelta(hours=1))
        call_command("resolve_inflight_emails", "--older-than", "15")
        (sent,) = provider_calls(mock)
    renders_made = [call for call in requests.get(f"{fake_url}/_calls", timeout=5).json() if call["path"] == "/carbone/render"]
    fake.shutdown()
    fake.server_close()
    assert len(renders_made) == 1
    assert base64.b64decode(sent["attachments"][0]["content"]) == (folder / document.storage_name).read_bytes()
    entry.refresh_from_db()
    assert (entry.status, entry.message_id) == ("delivered", "after-the-kill")
    assert Document.objects.count() == 1


def test_an_email_whose_lease_ran_out_while_it_rendered_is_left_to_the_sender_that_took_it(
    workspace, site_provider_a, engine, provider, settings
):
    from email_logs import tasks
    from email_logs.api.serializers import SendEmailSerializer
    from email_logs.models import EmailSource
    from email_logs.sending.intake import send_email

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # a worker: sent below
    serializer = SendEmailSerializer(data=EMAIL)
    assert serializer.is_valid(), serializer.errors
    entry = send_email(workspace, serializer.message(), source=EmailSource.WORKFLOW_EMAIL)

    def slow_render(request):  # the render outlasts the lease, and the in-flight sweep takes the email meanwhile
        OutboundEmail.objects.filter(pk=entry.pk).update(lease_expires_at=timezone.now() + timedelta(minutes=7))
        return (200, {"Content-Type": "application/pdf"}, PDF)

    provider.add_callback(responses.POST, f"{CARBONE}/render/tpl-letter", callback=slow_render)
    provider.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "m-twice"})

    tasks.deliver_emails.call(site_provider_a.pk, [entry.pk])

    assert not provider_calls(provider)  # the sender holding it now sends it, once
    outbox = OutboundEmail.objects.get()
    assert outbox.attempts == 0 and outbox.lease_expires_at > timezone.now() + timedelta(minutes=6)
