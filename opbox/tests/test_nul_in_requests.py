"""A NUL character anywhere in a request's path or query string is a 400 before any view runs: PostgreSQL
refuses NUL in text, so a view passing it to a query answered 500 (SPEC §8: no input gets a 5xx)."""

import pytest

from email_logs.tests.factories import add_rows
from tables.models import Table
from workspaces.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def ids(make_integration, workspace):
    integration = make_integration("EMAIL_PROVIDER")
    table = Table.objects.get(integration=integration)
    (row,) = add_rows(table, 1)
    return {"integration": integration.pk, "table": table.pk, "row": row.pk}


API = [
    ("get", "/api/emails/abc%00def"),
    ("get", "/api/suppressions?q=a%00b"),
    ("get", "/api/suppressions?q=ada%40example.com&cursor=%00"),
    ("delete", "/api/suppressions/ada%00@example.com"),
    ("get", "/api/integrations/{integration}%00"),
    ("patch", "/api/integrations/%00{integration}"),
    ("delete", "/api/integrations/c%00"),
    ("get", "/api/tables/{table}%00"),
    ("get", "/api/tables/%00"),
    ("get", "/api/tables/{table}/rows?q=%00"),
    ("get", "/api/tables/{table}/rows?status=deliv%00ered"),
    ("get", "/api/tables/{table}/rows.csv?source=%00"),
    ("get", "/api/tables?systemType=EMAIL%00LOG"),
    ("get", "/api/integrations/email-provider-a/templates?x=%00"),
]
PAGES = [
    "/tables/{table}/rows/{row}%00/",
    "/tables/{table}%00/rows/{row}/",
    "/tables/{table}%00/",
    "/tables/{table}/?q=%00",
    "/settings/integrations/{integration}%00/",
    "/settings/suppressions/?q=%00",
    "/login/?next=/tables/%00",
]


@pytest.mark.parametrize(("method", "path"), API, ids=[f"{method} {path}" for method, path in API])
def test_a_nul_in_an_api_path_or_query_is_a_400(owner_api, ids, method, path):
    response = getattr(owner_api, method)(path.format(**ids))

    assert response.status_code == 400, response.content[:300]
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize("path", PAGES)
def test_a_nul_in_a_page_path_or_query_is_a_400(pages_as, ids, path):
    response = pages_as(Role.OWNER).get(path.format(**ids))

    assert response.status_code == 400, response.content[:300]


def test_a_nul_is_refused_before_authentication_too(anon_api):
    assert anon_api.get("/api/emails/abc%00def").status_code == 400


def test_the_same_paths_without_the_nul_still_answer(owner_api, pages_as, ids):
    assert owner_api.get(f"/api/integrations/{ids['integration']}").status_code == 200
    assert owner_api.get("/api/suppressions?q=a").status_code == 200
    assert pages_as(Role.OWNER).get(f"/tables/{ids['table']}/rows/{ids['row']}/").status_code == 200
