"""A canary address, sent to and stored every way the product stores an address, appears nowhere once it is
erased: not in the API, the pages, the CSV export, the search, the log output (from the first send on) or the
database, task queue included.

Sends run on the database task backend, as in production on PostgreSQL: the task rows of django-tasks-db
(arguments, results, errors) are in the database dump that is searched.
"""

import logging

import pytest
import responses
from django.core.management import call_command
from django.db import connection
from django_tasks_db.models import DBTaskResult

from email_logs.models import EmailEvent, EmailLogEntry
from tables.models import Table
from workspaces.models import Role

from .conftest import PROVIDER_A

pytestmark = pytest.mark.django_db(transaction=True)  # sends go out on commit, as in production

CANARY = "canary.person@clientco.example"


def _text(response) -> str:
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    return body.decode()


def _run_worker():
    call_command("db_worker", "--batch", "--interval", "0")


def _plant(owner_api, workspace):
    """Emails naming the canary in every field, a provider refusal echoing it, its event and its suppression."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as provider:
        provider.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "m-1"})
        provider.add(responses.POST, f"{PROVIDER_A}/emails/batch", json={"data": [{"id": "m-1"}, {"id": "m-2"}]})  # the two share a call
        for body in (
            {"to": CANARY, "subject": f"For {CANARY}: your papers", "text": "x"},
            {"to": ["bob@example.com", CANARY.upper()], "cc": CANARY, "bcc": [CANARY], "subject": "Hearing", "text": "x"},
        ):
            assert owner_api.post("/api/emails", body, format="json").status_code == 202  # queued for the worker
        _run_worker()
        provider.replace(responses.POST, f"{PROVIDER_A}/emails", status=422, json={"message": f"Invalid `to`: {CANARY}"})
        assert owner_api.post("/api/emails", {"to": CANARY, "subject": "Again", "text": "x"}, format="json").status_code == 202
        _run_worker()
    assert sorted(EmailLogEntry.objects.values_list("status", flat=True)) == ["delivered", "delivered", "failed"]
    refused = EmailLogEntry.objects.get(status="failed")
    assert CANARY in refused.error  # the provider's echo reached the row: erasure must reach it there
    entry = EmailLogEntry.objects.filter(to=CANARY).first()
    EmailEvent.objects.create(
        entry=entry, integration_id=entry.integration_id, provider_event_id="evt-canary", type="bounced",
        recipient=CANARY, occurred_at=entry.sent_at, detail=f"550 {CANARY} unknown",
    )  # fmt: skip
    assert owner_api.post("/api/suppressions", {"address": CANARY}, format="json").status_code == 201


def _everything_a_member_can_see(workspace, member_api, member_page) -> dict[str, str]:
    table = Table.objects.get(workspace=workspace)
    rows = list(EmailLogEntry.objects.values_list("pk", flat=True))
    api = [
        f"/api/tables/{table.pk}/rows",
        f"/api/tables/{table.pk}/rows?q={CANARY}",
        "/api/suppressions",
        f"/api/suppressions?q={CANARY}",
    ]
    api += [f"/api/emails/{pk}" for pk in rows]
    pages = [f"/tables/{table.pk}/", f"/tables/{table.pk}/?q={CANARY}", "/settings/suppressions/"]
    pages += [f"/tables/{table.pk}/rows/{pk}/" for pk in rows]
    csv = [f"/api/tables/{table.pk}/rows.csv", f"/api/tables/{table.pk}/rows.csv?q={CANARY}"]
    seen = {}
    for kind, client, paths in (("API", member_api, api), ("pages", member_page, pages), ("CSV", member_api, csv)):
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            # A search page shows its own query back in the search box: that is the reader's input, not stored data.
            seen[f"{kind} {path}"] = _text(response).replace(f'value="{CANARY}"', 'value=""')
    return seen


def _database_dump() -> str:
    lines = []
    with connection.cursor() as cursor:
        for name in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(name)}")
            lines += [repr(row) for row in cursor.fetchall()]
    return "\n".join(lines)


def test_an_erased_canary_appears_nowhere(workspace, owner_api, api_as, pages_as, site_provider_a, caplog, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    caplog.set_level(logging.DEBUG)  # from the first send on: the send-time lines are searched too
    _plant(owner_api, workspace)
    member_page = pages_as(Role.MEMBER)
    before = _everything_a_member_can_see(workspace, api_as(Role.MEMBER), member_page)
    assert any(CANARY in text.lower() for text in before.values()), "the canary was never visible: the test would prove nothing"

    response = owner_api.post("/api/privacy/erase", {"address": CANARY}, format="json")
    _run_worker()  # the erasure's late sweep, queued like any task

    assert response.status_code == 200 and response.json() == {"rows": 3, "events": 1, "suppressions": 1}
    places = _everything_a_member_can_see(workspace, api_as(Role.MEMBER), member_page)
    places["the erasure's answer"] = response.content.decode()
    places["log records"] = "\n".join(f"{r.getMessage()} {r.args} {r.exc_text}" for r in caplog.records)
    places["database"] = _database_dump()
    assert any("email_logs.tasks.deliver_emails" in r.getMessage() for r in caplog.records), "the send-time lines were not captured"
    assert DBTaskResult.objects.filter(task_path="email_logs.tasks.deliver_emails").exists(), "no task rows to search"
    assert DBTaskResult.objects.filter(task_path="email_logs.tasks.sweep_erased_address").exists()
    for place, text in places.items():
        assert CANARY not in text.lower(), f"the erased address is still in: {place}"
    assert api_as(Role.MEMBER).get(f"/api/tables/{Table.objects.get().pk}/rows", {"q": CANARY}).json()["results"] == []
