"""The app's URLs plus the benchmarks' reference views:

- `/bench/bare`: a plain Django view returning a constant JSON body. It runs through the same middleware
  as the API, so an endpoint's ratio to it is what the endpoint's own work (DRF, authentication, queries,
  serialisation) costs.
- `/bench/drf`: a DRF view with no authentication, same body: what DRF's request/response machinery costs.
- `/bench/drf-auth`: the same with the API's default authentication (Bearer token) and IsWorkspaceMember:
  what every API endpoint pays before its own work.
- `/bench/floor/...`: one floor view per measured endpoint. A plain Django view that checks the token in one
  query, runs the endpoint's SQL through a raw cursor and writes `json.dumps` of the same answer: what
  Django plus PostgreSQL cannot go below for that answer. api_throughput.py checks each answers exactly
  what its endpoint answers.
"""

import base64
import hashlib
import hmac
import json

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.providers import PROVIDERS
from integrations.types import TYPES
from opbox.api import iso_timestamp
from opbox.urls import handler404  # noqa: F401  (the app's JSON 404 for /api/ paths)

BARE_BODY = {"status": "ok", "service": "opbox-integrations"}


def bare(request):
    return JsonResponse(BARE_BODY)


class DrfConstant(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response(BARE_BODY)


class DrfAuthenticatedConstant(APIView):
    def get(self, request):  # the REST_FRAMEWORK defaults: token authentication, IsWorkspaceMember
        return Response(BARE_BODY)


# Floor views ---------------------------------------------------------------------------------------

_TOKEN_SQL = """
    SELECT t.digest, m.role, m.workspace_id FROM workspaces_apitoken t
    JOIN workspaces_membership m ON m.id = t.membership_id JOIN workspaces_user u ON u.id = m.user_id
    WHERE t.lookup = %s AND t.revoked_at IS NULL AND u.is_active
"""
_WEBHOOK_SLUGS = {provider.type: provider.slug for provider in PROVIDERS}
_INTEGRATION_COLUMNS = "id, name, type, config, credential_fingerprints, enabled, is_site_email_provider, created_at, updated_at"


def _caller(request):
    """(role, workspace id) of the Bearer token, in one query; None when it is not an active token."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    with connection.cursor() as cursor:
        cursor.execute(_TOKEN_SQL, [token[5:17]])
        row = cursor.fetchone()
    if row is None or not hmac.compare_digest(row[0], hashlib.sha256(token.encode()).hexdigest()):
        return None
    return row[1], row[2]


def _json(value):
    return json.loads(value) if isinstance(value, str) else value  # Django's connections load jsonb as text


def _answer(body, status=200):
    return HttpResponse(json.dumps(body, separators=(",", ":")), content_type="application/json", status=status)


def _integration(row) -> dict:
    id_, name, type_, config, fingerprints, enabled, site, created, updated = row[:9]
    fingerprints = _json(fingerprints)
    return {
        "id": id_, "name": name, "type": type_,
        "config": {**_json(config), **{f"{key}Fingerprint": value for key, value in fingerprints.items()}},
        "enabled": enabled, "isSiteEmailProvider": site, "createdAt": iso_timestamp(created), "updatedAt": iso_timestamp(updated),
    }  # fmt: skip


def floor_list(request):
    caller = _caller(request)
    if caller is None:
        return _answer({"detail": "Invalid or revoked token."}, 401)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_INTEGRATION_COLUMNS} FROM integrations_integration WHERE workspace_id = %s"
            " ORDER BY created_at DESC, id DESC",
            [caller[1]],
        )
        return _answer([_integration(row) for row in cursor.fetchall()])


def floor_stats(request):
    caller = _caller(request)
    if caller is None:
        return _answer({"detail": "Invalid or revoked token."}, 401)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT type, COUNT(*), COUNT(*) FILTER (WHERE enabled) FROM integrations_integration"
            " WHERE workspace_id = %s GROUP BY type ORDER BY type",
            [caller[1]],
        )
        rows = cursor.fetchall()
    total, enabled = sum(row[1] for row in rows), sum(row[2] for row in rows)
    return _answer({"total": total, "enabled": enabled, "disabled": total - enabled, "byType": {t: n for t, n, _ in rows}})


def floor_detail(request, integration_id):
    caller = _caller(request)
    if caller is None or caller[0] not in ("OWNER", "ADMIN"):
        return _answer({"detail": "Not allowed."}, 403)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_INTEGRATION_COLUMNS}, last_checked_at, last_check_ok, last_event_at, last_check_detail"
            " FROM integrations_integration WHERE workspace_id = %s AND id = %s",
            [caller[1], integration_id],
        )
        row = cursor.fetchone()
    if row is None:
        return _answer({"detail": "Not found."}, 404)
    answer = _integration(row)
    fingerprints = _json(row[4])
    required = TYPES[answer["type"]].required_credentials
    detail = {key: answer[key] for key in ("id", "name", "type", "config", "enabled")}
    detail["credentialsConfigured"] = all(name in fingerprints for name in required)
    detail.update({key: answer[key] for key in ("isSiteEmailProvider", "createdAt", "updatedAt")})
    detail.update(lastCheckedAt=iso_timestamp(row[9]), lastCheckOk=row[10], lastCheckDetail=row[12] or None)
    slug = _WEBHOOK_SLUGS.get(answer["type"])
    detail["webhookUrl"] = request.build_absolute_uri(f"/api/webhooks/{slug}/{answer['id']}") if slug else None
    detail["lastEventAt"] = iso_timestamp(row[11])
    return _answer(detail)


def floor_rows(request, table_id):
    caller = _caller(request)
    if caller is None:
        return _answer({"detail": "Invalid or revoked token."}, 401)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.name, c.type, c.field FROM tables_table t JOIN tables_column c ON c.table_id = t.id"
            " WHERE t.workspace_id = %s AND t.id = %s ORDER BY c.position",
            [caller[1], table_id],
        )
        columns = cursor.fetchall()
        fields = ", ".join(f'"{field}"' for _, _, field in columns)
        cursor.execute(
            f"SELECT id, created_at, sent_at, {fields} FROM email_logs_emaillogentry WHERE table_id = %s"
            " ORDER BY sent_at DESC, id DESC LIMIT 51",
            [table_id],
        )
        rows = cursor.fetchall()
    results = []
    for row in rows[:50]:
        values = {}
        for (name, kind, _), value in zip(columns, row[3:], strict=True):
            values[name] = iso_timestamp(value) if kind == "Date" else (value or 0) if kind == "Number" else value or ""
        results.append({"id": row[0], "createdAt": iso_timestamp(row[1]), "values": values})
    following = None
    if len(rows) > 50:
        last = rows[49]
        raw = json.dumps({"d": "next", "p": [last[2].isoformat(), last[0]]}, separators=(",", ":")).encode()
        cursor_text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        following = request.build_absolute_uri(f"/api/tables/{table_id}/rows?cursor={cursor_text}")
    return _answer({"results": results, "next": following, "previous": None})


urlpatterns = [
    path("bench/bare", bare, name="bench-bare"),
    path("bench/drf", DrfConstant.as_view(), name="bench-drf"),
    path("bench/drf-auth", DrfAuthenticatedConstant.as_view(), name="bench-drf-auth"),
    path("bench/floor/integrations", floor_list),
    path("bench/floor/integrations/stats", floor_stats),
    path("bench/floor/integrations/<str:integration_id>", floor_detail),
    path("bench/floor/tables/<str:table_id>/rows", floor_rows),
    path("", include("opbox.urls")),
]
