"""Tables API: any member reads their workspace's tables and rows; another workspace's table is a 404."""

from django.core.exceptions import ValidationError
from django.http import Http404, StreamingHttpResponse
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from workspaces.permissions import IsWorkspaceMember

from . import services
from .models import SystemType, Table

# The row filters documented here are those of the only system table so far, the Email Log.
from email_logs.models import EmailSource, EmailStatus  # noqa: E402
from .serializers import RowPageSerializer, RowSerializer, TableDetailSerializer, TableSerializer

ROW_PARAMETERS = [
    OpenApiParameter("cursor", str, description="Opaque position from a previous page's next/previous URL."),
    # "" (as a form's "All" option sends it) means no filter.
    OpenApiParameter("status", str, enum=["", *EmailStatus.values], description="Only rows with this Status."),
    OpenApiParameter("source", str, enum=["", *EmailSource.values], description="Only rows with this Source label."),
    OpenApiParameter("q", str, description="Case-insensitive search over To and Subject."),
]


def _table_or_404(request, table_id) -> Table:
    try:
        return services.table_in(request.auth.workspace, table_id)
    except Table.DoesNotExist:
        raise Http404 from None


def _row_query(request) -> services.RowQuery:
    params = request.query_params
    return services.RowQuery(
        filters={name: params.get(name, "").strip() for name in ("status", "source")},
        search=params.get("q", "").strip()[:200],
    )


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

    @extend_schema(
        parameters=ROW_PARAMETERS + [OpenApiParameter("pageSize", int, description="Rows per page (1-200, default 50).")],
        responses=RowPageSerializer,
        summary="List a table's rows, newest first",
    )
    def get(self, request, table_id):
        table = _table_or_404(request, table_id)
        try:
            page_size = int(request.query_params.get("pageSize", services.DEFAULT_PAGE_SIZE))
        except ValueError:
            page_size = services.DEFAULT_PAGE_SIZE
        page = services.row_page(table, _row_query(request), request.query_params.get("cursor"), page_size)
        columns = list(table.columns.all())
        return Response(
            {
                "results": RowSerializer(page.rows, many=True, context={"columns": columns}).data,
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

    @extend_schema(parameters=ROW_PARAMETERS[1:], responses={(200, "text/csv"): OpenApiTypes.STR}, summary="Export rows as CSV")
    def get(self, request, table_id):
        table = _table_or_404(request, table_id)
        response = StreamingHttpResponse(services.csv_lines(table, _row_query(request)), content_type="text/csv; charset=utf-8")
        filename = slugify(f"{table.name} {table.integration.name if table.integration else table.id}") or "table"
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response
