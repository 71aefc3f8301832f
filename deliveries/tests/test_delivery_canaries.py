"""The canary search for deliveries: with every receiver's credential planted, and services that echo the
credential they were sent back in their errors, no credential appears in a delivered body, a delivery's
recorded error or response, a log record, the Delivery Log (rows API, CSV, pages) or the settings page."""

import json
import logging

import pytest

from deliveries.models import Delivery
from integrations.services import create_integration
from integrations.tests import services as svc
from tables.models import SystemType, Table
from workspaces.models import Role

from .conftest import email_row

pytestmark = pytest.mark.django_db

CANARIES = {
    "WEBHOOK": ({"url": svc.WEBHOOK}, {"secret": "whsec_Q0FOQVJZLWRlbGl2ZXJ5LXdlYmhvb2stc2VjcmV0"}),
    "SLACK": ({"channel": "C0123ALERTS"}, {"botToken": "xoxb-CANARY-delivery-slack-9f8e"}),
    "CRM_PLATFORM": ({"portalId": "1"}, {"accessToken": "pat-na1-CANARY-delivery-hubspot-7d6c"}),
    "EXTERNAL_DATABASE": ({"baseId": "appCANARYbase01"}, {"apiToken": "patCANARYdelivery.airtable5b4a"}),
    "WEBHOOK_PLATFORM": ({"webhookUrl": svc.ZAPIER}, {}),
}


def echo(status, shape):
    """A service answering `status` with the credential it was sent (the bearer token) in its error."""

    def answer(request):
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        return status, {}, json.dumps(shape(token))

    return answer


def test_no_credential_comes_out_of_a_delivery(workspace, mock, record, pages_as, member_api, caplog, settings):
    caplog.set_level(logging.DEBUG)
    settings.DELIVERY_SLACK_REQUESTS_PER_SECOND = settings.DELIVERY_CRM_PLATFORM_REQUESTS_PER_SECOND = None
    for type_name, (config, credentials) in CANARIES.items():
        create_integration(workspace, name=type_name, type=type_name, config=config, credentials=credentials)
    mock.add("POST", svc.WEBHOOK, status=500, body="server error")
    mock.add("POST", svc.ZAPIER, status=200)
    mock.add_callback("POST", f"{svc.SLACK}/chat.postMessage", callback=echo(200, lambda t: {"ok": False, "error": "invalid_auth", "warning": t}))
    mock.add_callback("GET", f"{svc.HUBSPOT}/crm/v3/objects/contacts/client@example.com",
                      callback=echo(401, lambda t: {"status": "error", "message": f"token {t} refused", "category": "INVALID_AUTHENTICATION"}))  # fmt: skip
    mock.add_callback("PATCH", f"{svc.AIRTABLE}/v0/appCANARYbase01/Email%20Log",
                      callback=echo(422, lambda t: {"error": {"type": "INVALID_REQUEST", "message": f"token {t} cannot write"}}))  # fmt: skip
    record(workspace, "email.sent", email_row())
    record(workspace, "email.failed", email_row(2, status="failed"))

    seen = []
    for call in mock.calls:
        seen.append(call.request.body.decode() if isinstance(call.request.body, bytes) else str(call.request.body))
        seen.append(call.response.text if call.response is not None else "")
    for delivery in Delivery.objects.all():
        seen += [delivery.error, delivery.response]
    admin = pages_as(Role.ADMIN)
    for table in Table.objects.filter(system_type=SystemType.DELIVERY_LOG):
        seen.append(member_api.get(f"/api/tables/{table.pk}/rows").content.decode())
        seen.append(b"".join(member_api.get(f"/api/tables/{table.pk}/rows.csv").streaming_content).decode())
        seen.append(admin.get(f"/tables/{table.pk}/").content.decode())
        for delivery in Delivery.objects.filter(integration_id=table.integration_id):
            seen.append(admin.get(f"/tables/{table.pk}/deliveries/{delivery.pk}/").content.decode())
    seen.append(admin.get("/settings/integrations/").content.decode())
    delivered_and_shown = "\n".join(seen[2 * len(mock.calls) :])  # what we recorded and show
    bodies = "\n".join(seen[0 : 2 * len(mock.calls) : 2])  # what we sent
    logged = "\n".join(record.getMessage() + str(record.args) + str(record.exc_text) for record in caplog.records)

    assert Delivery.objects.filter(status="failed").count() >= 2 and caplog.records
    assert "[redacted]" in delivered_and_shown  # the echoes were scrubbed, not dropped
    for _, credentials in CANARIES.values():
        for secret in credentials.values():
            for place, text in (("a delivered body", bodies), ("a delivery's record or a page", delivered_and_shown), ("the logs", logged)):
                assert secret not in text, f"a planted credential leaked into {place}"
