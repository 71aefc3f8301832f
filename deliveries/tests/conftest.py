"""Fixtures of the delivery tests: integrations of each receiving type (the connectors' test values), email
events shaped as the Email Log's rows, and a way to record events that commit (the fan-out runs after commit)."""

import pytest
from django.db import transaction

from integrations.services import create_integration
from integrations.tests import services as svc
from workspaces.events import record_event


@pytest.fixture
def receiver(workspace):
    """receiver("WEBHOOK", config={...}) -> an integration of the type with the connectors' test values (`config`
    merged over them, `credentials` instead of them)."""

    def make(type_name, *, in_workspace=None, name=None, config=None, credentials=None, enabled=True):
        default_config, default_credentials = svc.VALUES[type_name]
        return create_integration(
            in_workspace or workspace, name=name or f"{type_name.title()} receiver", type=type_name,
            config={**default_config, **(config or {})}, credentials=default_credentials if credentials is None else credentials,
            enabled=enabled,
        )  # fmt: skip

    return make


def email_row(n: int = 1, *, status="delivered", to="client@example.com", error="", table_id="ctable0000000000000000000"):
    """An email's row as the Email Log's rows API shapes it (SPEC §5), with its table id."""
    return {
        "id": f"cemail{n:019d}",
        "tableId": table_id,
        "createdAt": "2026-12-05T09:00:00Z",
        "values": {
            "Sent At": "2026-12-05T09:00:00Z", "To": to, "From": "noreply@acme.example", "Subject": f"Engagement letter {n}",
            "Status": status, "Provider": "email-provider-a", "Message ID": f"re_msg_{n}", "CC": "", "BCC": "",
            "Template ID": "", "Source": "Workflow Email", "Error": error, "Attachments": 0,
        },
    }  # fmt: skip


@pytest.fixture
def record(django_capture_on_commit_callbacks):
    """record(workspace, "email.sent", data) records an event in a transaction that commits (its fan-out, and
    inline its first attempt, run after the commit, as they do outside tests)."""

    def run(workspace, type_name, data):
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                return record_event(workspace.pk, type_name, data)

    return run
