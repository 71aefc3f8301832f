"""The rows API builds its answer from `values()` rows without serializer machinery (the hot path); the
RowSerializer in the OpenAPI schema must still describe it exactly."""

import pytest

from email_logs.tests.factories import add_rows
from tables import services
from tables.models import Table
from tables.serializers import RowSerializer

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("params, page_size", [({}, 50), ({}, 3), ({"status": "failed"}, 1), ({"source": "Form Send"}, 50)])
def test_a_page_of_dicts_is_what_the_documented_serializer_gives(make_integration, params, page_size):
    make_integration("EMAIL_PROVIDER")
    table = Table.objects.get()
    add_rows(table, 5)
    add_rows(table, 2, status="failed", error="Mailbox unavailable")
    table, columns = services.table_with_columns(table.workspace, table.pk)
    query = services.row_query(table, params)

    as_dicts = services.row_page(table, query, page_size=page_size, fields=services.row_fields(columns))
    as_models = services.row_page(table, query, page_size=page_size)

    assert services.rows_data(columns, as_dicts.rows) == RowSerializer(as_models.rows, many=True, context={"columns": columns}).data
    assert (as_dicts.next_cursor, as_dicts.previous_cursor) == (as_models.next_cursor, as_models.previous_cursor)


def test_a_table_of_another_workspace_is_not_found(make_integration, other_workspace):
    make_integration("EMAIL_PROVIDER")
    table = Table.objects.get()

    with pytest.raises(Table.DoesNotExist):
        services.table_with_columns(other_workspace, table.pk)
