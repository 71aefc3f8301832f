"""Liveness and readiness probes for load balancers and orchestrators (no authentication, no secrets)."""

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse

from .probes import backlogs, readiness_checks
from .staticfiles import manifest_problem

# Once this process has seen every migration applied it stops loading the migration graph on each probe:
# migrations are applied before a release starts, never under a running one.
_migrations_applied = False


def healthz(request):
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


def _pending_migrations() -> int:
    global _migrations_applied
    if _migrations_applied:
        return 0
    executor = MigrationExecutor(connection)
    pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    _migrations_applied = not pending
    return pending


def readyz(request):
    """Safe to route traffic here: the database answers, every migration is applied, the static files were
    collected, and each app's readiness check passes (e.g. every stored key id is configured). 503 otherwise,
    naming what is wrong. Also reports the backlogs waiting for workers (queued emails and the oldest's age),
    which do not make this node unready: a web node cannot fix a missing worker.
    """
    try:
        pending = _pending_migrations()
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    checks = {"migrations": f"{pending} migration(s) not applied: run `python manage.py migrate`." if pending else None}
    checks["staticFiles"] = manifest_problem()
    for name, check in readiness_checks().items():
        try:
            checks[name] = check()
        except DatabaseError:
            checks[name] = "The database failed while checking."
    body = {"status": "unavailable" if any(checks.values()) else "ok"}
    if pending:
        body["pendingMigrations"] = pending
    body["checks"] = {name: problem or "ok" for name, problem in checks.items()}
    if not pending:
        try:
            body["backlogs"] = {
                name: {"count": backlog.count, "oldestAgeSeconds": backlog.oldest_age_seconds}
                for name, backlog in backlogs().items()
            }
        except DatabaseError:
            body["backlogs"] = "unavailable"
    return JsonResponse(body, status=503 if any(checks.values()) else 200)
