"""Tables API: any member reads their workspace's tables and rows; another workspace's table is a 404."""

from django.core.exceptions import ValidationError
from django.http import Http404, StreamingHttpResponse
from django.utils.text import slugify
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from workspaces.permissions import IsWorkspaceMember

from . import services
from .models import SystemType, Table
from .registry import all_filters, all_search_labels
from .serializers import RowPageSerializer, TableDetailSerializer, TableSerializer


class RowsSchema(AutoSchema):
    """Documents the row filters the registered row sources declare, read when the schema is built
    (after every app's `ready()` has registered its sources)."""

    def get_override_parameters(self):
        filters = [
            # "" (as a form's "All" option sends it) means no filter.
            OpenApiParameter(parameter, str, enum=["", *choices], description=f"Only rows whose {parameter} is this.")
            for parameter, choices in all_filters().items()
        ]
        search = OpenApiParameter("q", str, description=f"Case-insensitive search ({'; '.join(all_search_labels())}).")
        return [*super().get_override_parameters(), *filters, search]


def _table_or_404(request, table_id) -> Table:
    try:
        return services.table_in(request.auth.workspace, table_id)
    except Table.DoesNotExist:
        raise Http404 from None


class TableListView(APIView):
    permission_classes = [IsWorkspaceMember]

    @extend_schema(
        parameters=[OpenApiParameter("systemType", str, enum=["", *SystemType.values], description='"" means all.')],
        responses=TableSerializer(many=True),
        summary="List the workspace's tables",
    )
    def get(self, request):
        system_type = request.query_params.get("systemType") or None
        if system_type is not None and system_type not in SystemType.values:
            raise ValidationError({"systemType": [f"Unknown system type. Allowed: {', '.join(SystemType.values)}."]})
        return Response(TableSerializer(services.tables_for(request.auth.workspace, system_type), many=True).data)


class TableDetailView(APIView):
    permission_classes = [IsWorkspaceMember]

    @extend_schema(responses=TableDetailSerializer, summary="Get a table with its columns")
    def get(self, request, table_id):
        return Response(TableDetailSerializer(_table_or_404(request, table_id)).data)


class TableRowsView(APIView):
    permission_classes = [IsWorkspaceMember]
    schema = RowsSchema()

    @extend_schema(
        parameters=[
            OpenApiParameter("cursor", str, description="Opaque position from a previous page's next/previous URL."),
            OpenApiParameter("pageSize", int, description="Rows per page (1-200, default 50)."),
        ],
        responses=RowPageSerializer,
        summary="List a table's rows, newest first",
    )
    def get(self, request, table_id):
        try:
            table, columns = services.table_with_columns(request.auth.workspace, table_id)
        except Table.DoesNotExist:
            raise Http404 from None
        try:
            page_size = int(request.query_params.get("pageSize", services.DEFAULT_PAGE_SIZE))
        except ValueError:
            raise ValidationError({"pageSize": ["A whole number of rows (1-200)."]}) from None
        query = services.row_query(table, request.query_params)
        page = services.row_page(table, query, request.query_params.get("cursor"), page_size, fields=services.row_fields(columns))
        return Response(
            {
                # RowPageSerializer's shape (it documents it), built without serializer machinery.
                "results": services.rows_data(columns, page.rows),
                "next": self._url(request, page.next_cursor),
                "previous": self._url(request, page.previous_cursor),
            }
        )

    @staticmethod
    def _url(request, cursor):
        if cursor is None:
            return None
        params = request.query_params.copy()
        params["cursor"] = cursor
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


class TableRowsCsvView(APIView):
    permission_classes = [IsWorkspaceMember]
    schema = RowsSchema()

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR}, summary="Export rows as CSV")
    def get(self, request, table_id):
        table = _table_or_404(request, table_id)
        response = StreamingHttpResponse(services.csv_lines(table, services.row_query(table, request.query_params)), content_type="text/csv; charset=utf-8")
        filename = slugify(f"{table.name} {table.integration.name if table.integration else table.id}") or "table"
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response
