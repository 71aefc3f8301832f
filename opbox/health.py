"""Liveness and readiness probes for load balancers and orchestrators (no authentication, no secrets)."""

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse


def healthz(request):
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """The database answers and every migration is applied: safe to route traffic here."""
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    if pending:
        return JsonResponse({"status": "unavailable", "pendingMigrations": len(pending)}, status=503)
    return JsonResponse({"status": "ok"})
