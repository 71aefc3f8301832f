"""The Tables pages: the Integrations tab (init on visit, sizes), the Email Log view, tenancy, query counts."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from email_logs.columns import EMAIL_LOG_COLUMNS
from email_logs.models import EmailSource, EmailStatus
from email_logs.tests.factories import add_rows
from tables import services
from tables.models import Table
from workspaces.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_table(make_integration):
    integration = make_integration("EMAIL_PROVIDER", name="Production Email")
    return Table.objects.get(integration=integration)


@pytest.fixture
def member(pages_as):
    return pages_as(Role.MEMBER)


def links(html: str, rel: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(rf'href="([^"]+)" rel="{rel}"', html)]


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/tables/")

    assert response.status_code == 302 and response["Location"] == "/login/?next=/tables/"


def test_first_visit_of_the_integrations_tab_creates_missing_email_logs(member, make_integration):
    integration = make_integration("EMAIL_PROVIDER_ALT", name="Marketing Email")
    Table.objects.filter(integration=integration).delete()  # as if it predated the hooks

    response = member.get("/tables/")

    assert response.status_code == 200
    table = Table.objects.get(integration=integration)
    assert f'href="/tables/{table.pk}/"' in response.content.decode()
    assert "Marketing Email" in response.content.decode()


def test_integrations_tab_shows_provider_state_size_and_last_email(member, log_table):
    add_rows(log_table, 3)
    log_table.integration.enabled = False
    log_table.integration.save()

    html = member.get("/tables/?tab=integrations").content.decode()

    assert "Email provider A" in html and "Production Email" in html and "disabled" in html
    assert re.search(r'<td class="num">\s*3\s*</td>', html)
    newest = log_table.email_log_entries.order_by("-sent_at").first().sent_at
    assert newest.strftime("%Y-%m-%d %H:%M") in html


def test_unknown_tab_is_not_found(member):
    assert member.get("/tables/?tab=nope").status_code == 404


def test_integrations_tab_empty_state_says_how_tables_appear(member):
    html = member.get("/tables/").content.decode()

    assert "No integration tables yet" in html and "Ask a workspace admin" in html


@pytest.mark.postgres
def test_very_large_tables_show_an_estimate_not_a_count(member, log_table, monkeypatch):
    monkeypatch.setattr(services, "EXACT_COUNT_LIMIT", 5)
    add_rows(log_table, 40)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE email_logs_emaillogentry")

    summary = services.table_summaries([log_table])[0]
    html = member.get("/tables/").content.decode()

    assert summary.row_count_is_estimate and summary.row_count > 5
    assert "about" in html


def test_log_view_shows_the_13_columns_in_order_newest_first(member, log_table):
    add_rows(log_table, 3)

    html = member.get(f"/tables/{log_table.pk}/").content.decode()

    headers = re.findall(r'<th scope="col" class="col-\w+">([^<]+)</th>', html)
    assert headers == [name for name, _, _ in EMAIL_LOG_COLUMNS]
    assert html.index("Update 2") < html.index("Update 1") < html.index("Update 0")


def test_failed_rows_are_marked_with_their_error(member, log_table):
    add_rows(log_table, 1, status=EmailStatus.FAILED, error="Recipient mailbox is full")

    html = member.get(f"/tables/{log_table.pk}/").content.decode()

    assert 'class="status-failed"' in html
    assert '<td class="error-text">Recipient mailbox is full</td>' in html


def test_filters_and_search_narrow_the_rows_and_the_csv_link_keeps_them(member, log_table):
    add_rows(log_table, 2, subject="Invoice ready", to="ada@example.com")
    add_rows(log_table, 2, status=EmailStatus.FAILED, source=EmailSource.FORM_SEND, subject="Form copy")

    failed = member.get(f"/tables/{log_table.pk}/?status=failed&source=Form+Send").content.decode()
    searched = member.get(f"/tables/{log_table.pk}/?q=ADA@example").content.decode()

    assert "Form copy" in failed and "Invoice ready" not in failed
    assert f'href="/api/tables/{log_table.pk}/rows.csv?status=failed&amp;source=Form+Send"' in failed
    assert "Invoice ready" in searched and "Form copy" not in searched


def test_csv_download_link_serves_the_filtered_rows_to_the_logged_in_user(member, log_table):
    add_rows(log_table, 2, subject="Kept")
    add_rows(log_table, 1, status=EmailStatus.FAILED, subject="Dropped")

    response = member.get(f"/api/tables/{log_table.pk}/rows.csv?status=delivered")

    body = b"".join(response.streaming_content).decode()
    assert response.status_code == 200 and body.count("Kept") == 2 and "Dropped" not in body


def test_older_and_newer_pages_walk_every_row_once(member, log_table):
    add_rows(log_table, 120)
    url = f"/tables/{log_table.pk}/"

    seen, html = [], member.get(url).content.decode()
    while True:
        seen += re.findall(r"Update (\d+)<", html)
        older = links(html, "next")
        if not older:
            break
        html = member.get(url + older[0]).content.decode()
    newer = links(html, "prev")
    back = member.get(url + newer[0]).content.decode()

    assert [int(n) for n in seen] == list(range(119, -1, -1))
    assert re.findall(r"Update (\d+)<", back)[0] == "69"


def test_a_bad_cursor_or_filter_value_is_a_400_that_says_why(member, log_table):
    bad_cursor = member.get(f"/tables/{log_table.pk}/?cursor=garbage")
    bad_status = member.get(f"/tables/{log_table.pk}/?status=bounced")

    assert bad_cursor.status_code == 400 and "Invalid cursor." in bad_cursor.content.decode()
    assert bad_status.status_code == 400 and "Unknown value." in bad_status.content.decode()


def test_empty_log_says_how_emails_get_here(member, log_table):
    html = member.get(f"/tables/{log_table.pk}/").content.decode()
    filtered = member.get(f"/tables/{log_table.pk}/?status=failed").content.decode()

    assert "No emails yet" in html and "POST /api/emails" in html
    assert "No emails match" in filtered


def test_another_workspaces_table_is_not_found(pages_as, log_table, other_workspace):
    outsider = pages_as(Role.OWNER, other_workspace)

    assert outsider.get(f"/tables/{log_table.pk}/").status_code == 404
    assert outsider.get(f"/api/tables/{log_table.pk}/rows.csv").status_code == 404
    assert "Production Email" not in outsider.get("/tables/").content.decode()


def _queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_log_view_runs_the_same_queries_at_10_and_10000_rows(member, log_table):
    url, filtered = f"/tables/{log_table.pk}/", f"/tables/{log_table.pk}/?status=delivered&source=Workflow+Email"
    member.get(url)  # the first visit also stores the current workspace in the session
    add_rows(log_table, 10)
    at_10 = (_queries_for(member, url), _queries_for(member, filtered))
    add_rows(log_table, 9_990)
    at_10000 = (_queries_for(member, url), _queries_for(member, filtered))
    older_page = _queries_for(member, url + links(member.get(url).content.decode(), "next")[0])

    assert at_10 == at_10000 == (older_page, older_page)
