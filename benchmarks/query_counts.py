"""SQL statements per API request at 1, 50 and 500 integrations, and at 10 and 1,000,000 log rows.

    .venv/bin/python benchmarks/query_counts.py                 # database opbox_bench_queries
    .venv/bin/python benchmarks/query_counts.py --rows 100000   # a quicker look
    .venv/bin/python benchmarks/query_counts.py --show-sql      # and the statements of the largest case

Every request goes through the whole Django stack in this process (django.test.Client, an ADMIN's
Bearer token); django.test.utils.CaptureQueriesContext counts the statements Django sends. Each request
is made once untimed first, so the token's last-use write (once a minute) stays out of the count.
The provider is mocked with `responses` (templates, and POST /api/emails sent inline).
Data: workspace bench-small (10 rows; its integrations grow 1 -> 50 -> 500), bench-medium (20,000 rows:
twice the search window) and bench-large (the COPY fill of --rows rows, reused between runs), each of
the last two with one integration.

Target: every endpoint's count flat, i.e. the same in every column. BOUNDED marks a count that differs
only between the small table and the others and is the same at 20,000 and at --rows rows.
"""

import argparse
import logging
import sys

from _common import add_integrations, admin_token, database_url, fill, print_table, setup_django, verdict

PROVIDER_A = "https://provider-a.test"  # what opbox.settings_test points provider A at


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the large Email Log")
    parser.add_argument("--database-url", default=database_url("opbox_bench_queries"))
    parser.add_argument("--show-sql", action="store_true", help="print each statement of the last column")
    return parser.parse_args()


def endpoints(table, integration_id: str) -> list[tuple[str, str, str, dict | None]]:
    """(label, method, path, JSON body) of every endpoint measured."""
    rows = f"/api/tables/{table.id}/rows"
    return [
        ("GET /api/integrations", "GET", "/api/integrations", None),
        ("GET /api/integrations/stats", "GET", "/api/integrations/stats", None),
        ("GET /api/integrations/<id>", "GET", f"/api/integrations/{integration_id}", None),
        ("GET .../email-provider-a/templates", "GET", "/api/integrations/email-provider-a/templates", None),
        ("GET /api/tables", "GET", "/api/tables?systemType=EMAIL_LOG", None),
        ("GET /api/tables/<id>", "GET", f"/api/tables/{table.id}", None),
        ("GET .../rows", "GET", rows, None),
        ("GET .../rows?pageSize=5, 2nd page", "GET", "NEXT", None),
        ("GET .../rows?status=failed", "GET", f"{rows}?status=failed", None),
        ("GET .../rows?q=lovelace", "GET", f"{rows}?q=lovelace", None),
        ("GET .../rows.csv (all rows)", "GET", f"/api/tables/{table.id}/rows.csv", None),
        ("POST /api/emails", "POST", "/api/emails",
         {"to": ["client@example.com"], "subject": "Counted", "text": "Hello", "cc": "partner@example.com"}),
    ]  # fmt: skip


def count_queries(client, table, integration_id) -> dict[str, list[str]]:
    """{label: the SQL statements of one request}, each request made once before it is counted."""
    import responses
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from email_logs.models import EmailLogEntry

    def request(method, path, body):
        if method == "POST":
            response = client.post(path, body, content_type="application/json")
        else:
            response = client.get(path)
        if response.status_code >= 300:
            raise SystemExit(f"{method} {path} answered {response.status_code}: {response.content[:300]!r}")
        if response.streaming:
            for _ in response.streaming_content:  # the statements run while the body streams
                pass
        return response

    counted = {}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as provider:
        provider.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "counted-message"})
        provider.add(responses.GET, f"{PROVIDER_A}/templates", json={"data": [
            {"id": "tmpl_1", "name": "Welcome", "created_at": "2026-01-10 09:00:00.000+00"}], "has_more": False})  # fmt: skip
        for label, method, path, body in endpoints(table, integration_id):
            if path == "NEXT":
                path = client.get(f"/api/tables/{table.id}/rows?pageSize=5").json()["next"].split("testserver", 1)[1]
            request(method, path, body)
            cache.clear()  # the templates list is cached: count the request that asks the provider
            with CaptureQueriesContext(connection) as captured:
                request(method, path, body)
            counted[label] = [query["sql"] for query in captured.captured_queries]
    # The sends added rows: remove them so the large table keeps exactly --rows rows for the next run.
    EmailLogEntry.objects.filter(table=table, subject="Counted").delete()
    return counted


def main():
    args = parse_args()
    setup_django(args.database_url)
    from django.test import Client
    from django.test.utils import setup_test_environment

    from integrations.models import Integration
    from tables import services

    setup_test_environment()  # the test client's host name, "testserver", becomes an allowed host
    logging.getLogger("django_tasks").setLevel(logging.WARNING)  # a line per inline send otherwise
    small = fill(10, slug="bench-small")
    # Back to one integration: an earlier run left 500.
    Integration.objects.filter(workspace=small.workspace).exclude(pk=small.integration_id).delete()
    small_client = Client(HTTP_AUTHORIZATION=f"Bearer {admin_token(small.workspace)}")

    columns = {}
    for total in (1, 50, 500):
        add_integrations(small.workspace, total - Integration.objects.filter(workspace=small.workspace).count())
        columns[f"{total} integ."] = count_queries(small_client, small, small.integration_id)
    # Twice the search window: where a search stops fitting in its first, bounded walk (see tables.services).
    medium_rows = 2 * services.SEARCH_WINDOW
    for rows, slug in ((medium_rows, "bench-medium"), (args.rows, "bench-large")):
        log = fill(rows, slug=slug)
        client = Client(HTTP_AUTHORIZATION=f"Bearer {admin_token(log.workspace)}")
        columns[f"{rows:,} rows"] = count_queries(client, log, log.integration_id)

    headers = ["endpoint", "1 integ. / 10 rows", "50 integ.", "500 integ.", f"{medium_rows:,} rows", f"{args.rows:,} rows"]
    headers.append("flat")
    table, misses, bounded_ones = [], 0, 0
    for label, *_ in endpoints(small, small.integration_id):
        counts = [len(column[label]) for column in columns.values()]
        flat = len(set(counts)) == 1
        # Not flat, but constant from the medium table up: a fixed number more once past the search window.
        bounded = not flat and len(set(counts[:3])) == 1 and counts[3] == counts[4]
        misses += not flat and not bounded
        bounded_ones += bounded
        table.append([label, *counts, "BOUNDED" if bounded else verdict(flat)])
    print(f"\nSQL statements per request (an ADMIN's token; {args.database_url.rsplit('/', 1)[1]}), all statements")
    print("Django sends counted, BEGIN/COMMIT/SET LOCAL included; integrations grow with 10 log rows, rows with 1 integration")
    print_table(headers, table)
    print(
        f"\nrows.csv reads through one server-side cursor: one DECLARE statement, then PostgreSQL hands over\n"
        f"{services.CSV_CHUNK_SIZE:,} rows per FETCH ({args.rows // services.CSV_CHUNK_SIZE + 1:,} fetches for the "
        f"large table), which Django does not count as statements."
    )
    print(f"\n{misses} endpoint(s) growing, {bounded_ones} bounded (a constant number more above the search window), "
          f"the others flat -> strictly flat: {verdict(not misses and not bounded_ones)}")  # fmt: skip
    if args.show_sql:
        last = list(columns)[-1]
        for label, statements in columns[last].items():
            print(f"\n{label} ({last}):")
            for sql in statements:
                print("   ", sql[:300])
    return 0 if not misses else 1


if __name__ == "__main__":
    sys.exit(main())
