"""Reading tables and rows: shapes, order, cursor pages, filters, search, CSV, tenancy, query counts."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from email_logs.models import EmailLogEntry, EmailSource, EmailStatus
from email_logs.tests.factories import add_rows
from tables.models import Table

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_table(make_integration):
    integration = make_integration("EMAIL_PROVIDER", name="Production Email")
    return Table.objects.get(integration=integration)


def test_tables_list_and_filter_by_system_type(member_api, log_table):
    listed = member_api.get("/api/tables").json()
    filtered = member_api.get("/api/tables?systemType=EMAIL_LOG").json()
    unknown = member_api.get("/api/tables?systemType=OTHER")

    assert listed == filtered
    assert list(listed[0]) == ["id", "name", "systemType", "integrationId", "createdAt"]
    assert listed[0]["integrationId"] == log_table.integration_id
    assert unknown.status_code == 400 and "systemType" in unknown.json()


def test_table_detail_has_its_13_columns_in_order(member_api, log_table):
    body = member_api.get(f"/api/tables/{log_table.id}").json()

    assert [c["position"] for c in body["columns"]] == list(range(13))
    assert body["columns"][0] == {"id": body["columns"][0]["id"], "name": "Sent At", "type": "Date", "position": 0}
    assert body["columns"][-1]["name"] == "Attachments"


def test_rows_come_newest_first_with_typed_values(member_api, log_table):
    add_rows(log_table, 3)

    body = member_api.get(f"/api/tables/{log_table.id}/rows").json()

    assert [r["values"]["Subject"] for r in body["results"]] == ["Update 2", "Update 1", "Update 0"]
    values = body["results"][0]["values"]
    assert values["Attachments"] == 0
    assert values["CC"] == ""
    assert values["Sent At"].endswith("Z")
    assert body["next"] is None and body["previous"] is None


def test_cursor_pages_walk_every_row_once_in_both_directions(member_api, log_table):
    add_rows(log_table, 25)
    # Rows sharing a timestamp must neither repeat nor vanish at page edges.
    add_rows(log_table, 4, start=timezone.now() - timedelta(hours=3))
    EmailLogEntry.objects.filter(subject__in=["Update 0", "Update 1"]).update(sent_at=timezone.now() - timedelta(hours=2))

    seen, pages, url = [], [], f"/api/tables/{log_table.id}/rows?pageSize=7"
    while url:
        body = member_api.get(url).json()
        pages.append(body)
        seen += [r["id"] for r in body["results"]]
        url = body["next"]

    assert len(seen) == len(set(seen)) == 29
    assert len(pages) == 5
    back = member_api.get(pages[2]["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in pages[1]["results"]]
    assert member_api.get(pages[1]["previous"]).json()["previous"] is None


def test_rows_tied_across_page_edges_are_walked_once_while_new_rows_arrive(member_api, log_table):
    tied_at = timezone.now() - timedelta(hours=2)
    older = add_rows(log_table, 2, start=tied_at - timedelta(hours=1))
    tied = add_rows(log_table, 9, start=tied_at)
    EmailLogEntry.objects.filter(pk__in=[r.pk for r in tied]).update(sent_at=tied_at)
    newer = add_rows(log_table, 2, start=tied_at + timedelta(minutes=30))
    # Pages of 5: 2 newer + 3 tied, then 5 tied, then 1 tied + the 2 older: ties straddle both edges.
    first = member_api.get(f"/api/tables/{log_table.id}/rows?pageSize=5").json()
    add_rows(log_table, 3, start=timezone.now())  # emails sent while the reader pages: newer than page 1

    pages, url = [first["results"]], first["next"]
    while url and len(pages) < 10:  # a cursor stuck on the ties would page forever
        body = member_api.get(url).json()
        pages.append(body["results"])
        url = body["next"]

    seen = [row["id"] for page in pages for row in page]
    assert len(seen) == len(set(seen)), "a row came twice"
    assert set(seen) == {r.pk for r in older + tied + newer}, "a row was skipped, or an arrival came on an older page"
    edges = [pages[0][-1], pages[1][0], pages[1][-1], pages[2][0]]
    assert len(pages) == 3 and len({row["values"]["Sent At"] for row in edges}) == 1


def test_filters_and_search(member_api, log_table):
    add_rows(log_table, 3)
    add_rows(log_table, 2, status=EmailStatus.FAILED, error="Mailbox full", source=EmailSource.FORM_SEND)
    add_rows(log_table, 1, to="ada@lovelace.example", subject="Your Engagement Letter")
    base = f"/api/tables/{log_table.id}/rows"

    failed = member_api.get(f"{base}?status=failed").json()["results"]
    form_sends = member_api.get(f"{base}?source=Form Send").json()["results"]
    by_subject = member_api.get(f"{base}?q=engagement").json()["results"]
    by_recipient = member_api.get(f"{base}?q=LOVELACE").json()["results"]

    assert {r["values"]["Status"] for r in failed} == {"failed"} and len(failed) == 2
    assert failed[0]["values"]["Error"] == "Mailbox full"
    assert len(form_sends) == 2
    assert [r["values"]["To"] for r in by_subject] == ["ada@lovelace.example"]
    assert by_recipient == by_subject


def test_unknown_filter_values_and_bad_cursors_are_400(member_api, log_table):
    base = f"/api/tables/{log_table.id}/rows"

    assert member_api.get(f"{base}?status=bounced").status_code == 400
    assert member_api.get(f"{base}?source=Nowhere").status_code == 400
    assert member_api.get(f"{base}?cursor=not-a-cursor").status_code == 400


def test_csv_export_streams_the_filtered_rows(member_api, log_table):
    add_rows(log_table, 3)
    add_rows(log_table, 1, status=EmailStatus.FAILED, subject="=HYPERLINK(\"http://evil\")")

    response = member_api.get(f"/api/tables/{log_table.id}/rows.csv")
    filtered = member_api.get(f"/api/tables/{log_table.id}/rows.csv?status=failed")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[0][:4] == ["Sent At", "To", "From", "Subject"] and len(lines[0]) == 13
    assert len(lines) == 5
    failed_lines = list(csv.reader(io.StringIO(b"".join(filtered.streaming_content).decode())))
    assert len(failed_lines) == 2
    assert failed_lines[1][3].startswith("'=")  # a formula stays text in a spreadsheet


def test_another_workspaces_table_is_a_404(other_admin_api, log_table):
    for path in ("", "/rows", "/rows.csv"):
        assert other_admin_api.get(f"/api/tables/{log_table.id}{path}").status_code == 404
    assert other_admin_api.get("/api/tables").json() == []


def test_anonymous_readers_get_401(anon_api, log_table):
    assert anon_api.get(f"/api/tables/{log_table.id}/rows").status_code == 401


def test_a_page_costs_the_same_queries_at_10_and_at_200_rows(member_api, log_table, django_assert_num_queries):
    add_rows(log_table, 10)
    member_api.get("/api/tables")  # the token's first use records last_used_at: keep it out of the count
    with CaptureQueriesContext(connection) as small:
        member_api.get(f"/api/tables/{log_table.id}/rows")
    add_rows(log_table, 190)
    with django_assert_num_queries(len(small)):
        member_api.get(f"/api/tables/{log_table.id}/rows")
    assert not any("COUNT(" in q["sql"].upper() for q in small.captured_queries)


def test_search_finds_old_matches_beyond_the_newest_window(member_api, log_table, monkeypatch):
    from tables import services

    monkeypatch.setattr(services, "SEARCH_WINDOW", 5)  # the window is 10,000 rows in production
    add_rows(log_table, 3, start=timezone.now() - timedelta(days=30), subject="Archived engagement")
    add_rows(log_table, 20)
    add_rows(log_table, 2, start=timezone.now() - timedelta(minutes=5), subject="Recent engagement")

    with CaptureQueriesContext(connection) as queries:
        body = member_api.get(f"/api/tables/{log_table.id}/rows?q=engagement&pageSize=4").json()
    # The patch took effect: the window's edge is the 5th newest row (unpatched, the 10,000th: no split).
    # Read now: the next request clears Django's query log.
    assert any("LIMIT 1 OFFSET 4" in q["sql"] for q in queries.captured_queries)
    rest = member_api.get(body["next"]).json()

    subjects = [r["values"]["Subject"] for r in body["results"] + rest["results"]]
    assert subjects == ["Recent engagement"] * 2 + ["Archived engagement"] * 3
    assert rest["next"] is None
