"""Suppressions: recorded once per address and workspace whatever the case or the repeats, listed and
changed through the API and the Settings page, and honoured at send time."""

import json

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from email_logs.events.suppressions import address_hash, record_suppressions, suppressed_among
from email_logs.models import EmailLogEntry, OutboundEmail, Suppression, SuppressionReason
from email_logs.tests.factories import add_rows
from tables.models import Table
from workspaces.models import AuditEvent, Role

from .conftest import PROVIDER_A, resend_accepts

pytestmark = pytest.mark.django_db


def suppress(workspace, *addresses, reason=SuppressionReason.BOUNCED, entry_id=None):
    return record_suppressions(workspace.pk, [(address, reason, entry_id) for address in addresses])


# The service -------------------------------------------------------------------------------------


def test_address_hash_ignores_case_and_surrounding_space():
    assert address_hash("  Ada@Example.COM ") == address_hash("ada@example.com")
    assert address_hash("ada@example.com") != address_hash("bob@example.com")
    assert len(address_hash("ada@example.com")) == 64


def test_record_suppressions_counts_only_new_addresses_and_keeps_the_first_reason(workspace):
    first = record_suppressions(
        workspace.pk,
        [("Ada@Example.com", SuppressionReason.BOUNCED, None), ("ada@example.com", SuppressionReason.COMPLAINED, None)],
    )
    again = record_suppressions(
        workspace.pk,
        [("ADA@example.com", SuppressionReason.COMPLAINED, None), ("bob@example.com", SuppressionReason.COMPLAINED, None)],
    )

    assert (first, again) == (1, 1)
    assert Suppression.objects.get(address="ada@example.com").reason == SuppressionReason.BOUNCED
    added = AuditEvent.objects.filter(workspace=workspace, action="suppression.added")
    assert added.count() == 2 and all(event.actor is None for event in added)


def test_a_bounce_and_a_complaint_both_suppress_with_their_email(workspace, site_provider_a):
    bounced, complained = add_rows(Table.objects.get(integration=site_provider_a), 2)

    suppress(workspace, "ada@example.com", reason=SuppressionReason.BOUNCED, entry_id=bounced.pk)
    suppress(workspace, "bob@example.com", reason=SuppressionReason.COMPLAINED, entry_id=complained.pk)

    rows = {s.address: (s.reason, s.entry_id) for s in Suppression.objects.all()}
    assert rows == {"ada@example.com": ("bounced", bounced.pk), "bob@example.com": ("complained", complained.pk)}


def test_suppressions_are_per_workspace(workspace, other_workspace):
    suppress(other_workspace, "ada@example.com")

    assert suppressed_among(workspace, ["ada@example.com"]) == set()
    assert suppressed_among(other_workspace, ["ADA@example.com", "bob@example.com"]) == {"ADA@example.com"}


def test_an_erased_address_stays_suppressed(workspace):
    suppress(workspace, "ada@example.com")
    Suppression.objects.update(address="")  # what erasure (SPEC §12) leaves

    assert suppressed_among(workspace, ["Ada@example.com"]) == {"Ada@example.com"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_reports_of_the_same_address_suppress_it_once(workspace):
    from opbox.tests.test_concurrency import race

    new = race([
        (lambda n=n: record_suppressions(workspace.pk, [("ADA@example.com", SuppressionReason.BOUNCED, None), (f"c{n}@example.com", SuppressionReason.BOUNCED, None)]))
        for n in range(10)
    ])  # fmt: skip

    assert sum(new) == 11  # ada once, and each one's own address
    assert Suppression.objects.filter(address="ada@example.com").count() == 1
    assert AuditEvent.objects.filter(action="suppression.added").count() == 11


# The API -----------------------------------------------------------------------------------------


def test_members_list_suppressions_newest_first_and_search_them(member_api, workspace, other_workspace):
    suppress(workspace, "ada@example.com")
    suppress(workspace, "bob@globex.example", reason=SuppressionReason.COMPLAINED)
    suppress(other_workspace, "carol@example.com")

    listed = member_api.get("/api/suppressions").json()
    found = member_api.get("/api/suppressions", {"q": "GLOBEX"}).json()

    assert [s["address"] for s in listed["results"]] == ["bob@globex.example", "ada@example.com"]
    assert listed["next"] is None and listed["previous"] is None
    assert set(listed["results"][0]) == {"address", "reason", "createdAt", "emailId"}
    assert [(s["address"], s["reason"]) for s in found["results"]] == [("bob@globex.example", "complained")]


def test_the_list_walks_by_cursor_both_ways_and_refuses_a_bad_cursor(member_api, workspace):
    for i in range(5):
        suppress(workspace, f"client{i}@example.com")

    first = member_api.get("/api/suppressions", {"pageSize": 2}).json()
    second = member_api.get(first["next"]).json()
    back = member_api.get(second["previous"]).json()

    assert [s["address"] for s in first["results"]] == ["client4@example.com", "client3@example.com"]
    assert [s["address"] for s in second["results"]] == ["client2@example.com", "client1@example.com"]
    assert back["results"] == first["results"]
    assert member_api.get("/api/suppressions", {"cursor": "not-a-cursor"}).status_code == 400


def test_the_list_costs_the_same_queries_for_two_suppressions_or_forty(member_api, pages_as, workspace, site_provider_a):
    emails = add_rows(Table.objects.get(integration=site_provider_a), 40)
    page_client = pages_as(Role.MEMBER)

    def queries(count):
        Suppression.objects.all().delete()
        record_suppressions(workspace.pk, [(f"c{i}@example.com", SuppressionReason.BOUNCED, emails[i].pk) for i in range(count)])
        with CaptureQueriesContext(connection) as api:
            assert len(member_api.get("/api/suppressions").json()["results"]) == count
        with CaptureQueriesContext(connection) as page:
            assert page_client.get("/settings/suppressions/").content.decode().count("the email</a>") == count
        return len(api), len(page)

    queries(1)  # the token's and the session's first use are recorded once
    assert queries(2) == queries(40)


def test_an_admin_adds_an_address_once_and_the_change_is_audited(admin_api, workspace):
    added = admin_api.post("/api/suppressions", {"address": " Ada@Example.com "}, format="json")
    again = admin_api.post("/api/suppressions", {"address": "ADA@example.com"}, format="json")

    assert added.status_code == 201
    assert added.json() == {
        "address": "ada@example.com",
        "reason": "manual",
        "createdAt": added.json()["createdAt"],
        "emailId": None,
    }
    assert again.status_code == 200 and again.json() == added.json()  # already suppressed: the existing one
    (event,) = AuditEvent.objects.filter(workspace=workspace)
    suppression = Suppression.objects.get()
    assert (event.action, event.target, event.actor.email) == ("suppression.added", suppression.pk, "admin0@acme.example")
    assert "ada@example.com" not in json.dumps(event.changes)


@pytest.mark.parametrize(
    "body", [{"address": "not-an-address"}, {"address": ""}, {"address": 42}, {}, {"address": "a@b.co", "x": 1}]
)
def test_an_invalid_address_is_a_400_and_writes_nothing(admin_api, body):
    assert admin_api.post("/api/suppressions", body, format="json").status_code == 400
    assert not Suppression.objects.exists() and not AuditEvent.objects.exists()


def test_an_admin_removes_an_address_in_any_case_and_the_change_is_audited(admin_api, workspace):
    suppress(workspace, "ada@example.com")

    assert admin_api.delete("/api/suppressions/ADA@Example.com").status_code == 204
    assert admin_api.delete("/api/suppressions/ada@example.com").status_code == 404
    assert not Suppression.objects.exists()
    assert AuditEvent.objects.filter(action="suppression.removed", actor__email="admin0@acme.example").count() == 1


def test_an_admin_cannot_remove_another_workspaces_suppression(admin_api, other_workspace):
    suppress(other_workspace, "ada@example.com")

    assert admin_api.delete("/api/suppressions/ada@example.com").status_code == 404
    assert Suppression.objects.filter(workspace=other_workspace).count() == 1


# Sending -----------------------------------------------------------------------------------------

sends = pytest.mark.django_db(transaction=True)  # a send runs on commit, as in production


def send(api, **body):
    return api.post("/api/emails", {"to": "ada@example.com", "subject": "Your documents", "text": "Hi", **body}, format="json")


@sends
def test_suppressed_recipients_are_left_out_and_named(member_api, workspace, site_provider_a, provider):
    resend_accepts(provider, "msg-1")
    suppress(workspace, "ada@example.com", "audit@acme.example")

    response = send(member_api, to=["Ada@Example.com", "bob@example.com"], cc=["carol@example.com"], bcc=["audit@acme.example"])

    assert response.status_code == 201
    values = response.json()["values"]
    assert (values["Status"], values["To"], values["CC"], values["BCC"]) == (
        "delivered",
        "bob@example.com",
        "carol@example.com",
        "",
    )
    assert values["Error"] == "Not sent to suppressed recipients: Ada@Example.com, audit@acme.example"
    sent = json.loads(provider.calls[0].request.body)
    assert (sent["to"], sent["cc"], sent.get("bcc")) == (["bob@example.com"], ["carol@example.com"], None)


@sends
def test_an_email_to_only_suppressed_recipients_fails_without_calling_the_provider(
    member_api, workspace, site_provider_a, provider
):
    provider.add("POST", f"{PROVIDER_A}/emails", json={"id": "never"})
    suppress(workspace, "ada@example.com", reason=SuppressionReason.COMPLAINED)

    response = send(member_api, to="ADA@example.com")

    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "All recipients are suppressed: ADA@example.com"
    assert body["row"]["values"]["Status"] == "failed" and body["row"]["values"]["Error"] == body["detail"]
    assert body["row"]["values"]["To"] == "ADA@example.com"  # who it was for, though nothing was sent
    assert len(provider.calls) == 0
    assert not OutboundEmail.objects.exists()
    assert member_api.get(f"/api/emails/{body['row']['id']}").json()["attempts"] == 0


@sends
def test_an_email_whose_every_to_recipient_is_suppressed_is_not_sent_to_its_cc(member_api, workspace, site_provider_a, provider):
    suppress(workspace, "ada@example.com")

    response = send(member_api, cc="bob@example.com")

    assert response.status_code == 422
    assert response.json()["detail"] == "Every To recipient is suppressed, so nothing was sent: ada@example.com"
    assert len(provider.calls) == 0


@sends
def test_after_removing_the_suppression_the_send_goes_through_again(member_api, admin_api, workspace, site_provider_a, provider):
    resend_accepts(provider, "msg-again")
    suppress(workspace, "ada@example.com")
    assert send(member_api).status_code == 422

    assert admin_api.delete("/api/suppressions/ada@example.com").status_code == 204
    response = send(member_api)

    assert response.status_code == 201
    assert response.json()["values"]["Error"] == ""
    assert json.loads(provider.calls[0].request.body)["to"] == ["ada@example.com"]
    assert EmailLogEntry.objects.filter(status="failed").count() == 1  # the refused one stays in the log


@sends
def test_another_workspaces_suppression_does_not_stop_our_send(member_api, other_workspace, site_provider_a, provider):
    resend_accepts(provider)
    suppress(other_workspace, "ada@example.com")

    assert send(member_api).status_code == 201


# The Settings page -------------------------------------------------------------------------------


def test_a_member_sees_the_list_without_the_controls(pages_as, workspace):
    suppress(workspace, "ada@example.com")

    page = pages_as(Role.MEMBER).get("/settings/suppressions/").content.decode()

    assert "<td>ada@example.com</td>" in page and "bounced" in page
    assert "Suppress an address" not in page and "Remove" not in page


def test_an_admin_adds_and_removes_an_address_on_the_page(pages_as, workspace):
    admin = pages_as(Role.ADMIN)

    added = admin.post("/settings/suppressions/add/", {"address": "Ada@Example.com"})
    page = admin.get("/settings/suppressions/").content.decode()
    removed = admin.post("/settings/suppressions/ada@example.com/remove/")

    assert added["Location"] == "/settings/suppressions/"
    assert "Suppressed ada@example.com" in str(list(get_messages(added.wsgi_request))[0])
    assert "ada@example.com" in page and "Remove" in page
    assert removed.status_code == 302 and not Suppression.objects.exists()
    actions = list(AuditEvent.objects.order_by("created_at").values_list("action", flat=True))
    assert actions == ["suppression.added", "suppression.removed"]


def test_the_page_refuses_an_invalid_address_and_searches(pages_as, workspace):
    admin = pages_as(Role.ADMIN)
    suppress(workspace, "ada@example.com", "bob@globex.example")

    refused = admin.post("/settings/suppressions/add/", {"address": "not an address"})
    found = admin.get("/settings/suppressions/", {"q": "Globex"}).content.decode()

    assert "Not suppressed" in str(list(get_messages(refused.wsgi_request))[0])
    assert Suppression.objects.count() == 2
    assert "<td>bob@globex.example</td>" in found and "<td>ada@example.com</td>" not in found


@sends
def test_end_to_end_a_signed_bounce_stops_the_next_send_until_an_admin_removes_it(
    client, member_api, admin_api, hooked_b, signer, provider
):
    from .conftest import sendgrid_accepts
    from .signing import as_body, sendgrid_event
    from .webhook_helpers import post_webhook, webhook_path

    sendgrid_accepts(provider, "sg-first")
    first = send(member_api, integrationId=hooked_b.pk)
    assert first.status_code == 201
    bounce = [
        sendgrid_event(
            "bounce", "evt-1", email="Ada@Example.com", row_id=first.json()["id"], type="bounce", reason="550 5.1.1 unknown"
        )
    ]
    body = as_body(bounce)
    assert post_webhook(client, webhook_path(hooked_b), body, signer.headers(body)).status_code == 200

    refused = send(member_api, integrationId=hooked_b.pk)
    listed = member_api.get("/api/suppressions").json()["results"]
    timeline = member_api.get(f"/api/emails/{first.json()['id']}").json()["events"]
    assert refused.status_code == 422 and len(provider.calls) == 1  # only the first send reached SendGrid
    assert listed == [
        {"address": "ada@example.com", "reason": "bounced", "createdAt": listed[0]["createdAt"], "emailId": first.json()["id"]}
    ]
    assert [(event["type"], event["recipient"]) for event in timeline] == [("bounced", "Ada@Example.com")]

    assert admin_api.delete("/api/suppressions/ada@example.com").status_code == 204
    assert send(member_api, integrationId=hooked_b.pk).status_code == 201
    assert len(provider.calls) == 2


# Addresses with characters that mean something in a URL ------------------------------------------------

# Each is a valid address (RFC 5322 allows / ? # % in the local part). With `/`, the page's remove link could
# not be built (a 500: NoReverseMatch) and the API's DELETE never matched its route (a 404).
URL_CHARACTER_ADDRESSES = ["a/b@example.com", "x/remove/y@example.com", "a?b@example.com", "a#b@example.com", "a%2fb@example.com"]


def _remove_action(page: str, address: str) -> str:
    """The action of the page's remove form for `address` (found by its button's label)."""
    import html
    import re

    forms = re.findall(r'<form method="post" action="([^"]+)">\s*<input[^>]*>\s*<button[^>]*aria-label="Remove ([^"]+)"', page)
    return next(html.unescape(action) for action, label in forms if html.unescape(label) == address)


@pytest.mark.parametrize("address", URL_CHARACTER_ADDRESSES)
def test_an_address_with_url_characters_is_listed_and_removed_on_the_page(admin_api, pages_as, address):
    assert admin_api.post("/api/suppressions", {"address": address}, format="json").status_code == 201
    admin = pages_as(Role.ADMIN)

    page = admin.get("/settings/suppressions/")
    removed = admin.post(_remove_action(page.content.decode(), address))

    assert page.status_code == 200
    assert removed.status_code == 302 and not Suppression.objects.exists()


@pytest.mark.parametrize("address", URL_CHARACTER_ADDRESSES)
def test_an_address_with_url_characters_is_deleted_through_the_api(admin_api, address):
    from urllib.parse import quote

    assert admin_api.post("/api/suppressions", {"address": address}, format="json").status_code == 201

    response = admin_api.delete(f"/api/suppressions/{quote(address, safe='@')}")
    with_slash = admin_api.delete(f"/api/suppressions/{quote(address, safe='@')}/")

    assert response.status_code == 204 and not Suppression.objects.exists()
    assert with_slash.status_code == 404  # gone, and the optional trailing slash is not part of the address


def test_a_bounce_for_an_address_with_a_slash_suppresses_it_and_the_page_still_answers(client, pages_as, hooked_b, signer, admin_api):
    from .signing import as_body, sendgrid_event
    from .webhook_helpers import logged, post_webhook, webhook_path

    row = logged(hooked_b, to="a/b@example.com", message_id="sg-1")
    body = as_body([sendgrid_event("bounce", "evt-1", email="a/b@example.com", row_id=row.pk, type="bounce", reason="550 unknown")])
    assert post_webhook(client, webhook_path(hooked_b), body, signer.headers(body)).status_code == 200

    page = pages_as(Role.MEMBER).get("/settings/suppressions/")

    assert page.status_code == 200 and "a/b@example.com" in page.content.decode()
    assert admin_api.delete("/api/suppressions/a/b@example.com").status_code == 204
