"""The production task backends really carry a send: django-tasks-db (db_worker) and django-tasks-rq (Redis)."""

import pytest
import redis
from django.core.management import call_command

from email_logs.models import EmailLogEntry

from .conftest import resend_accepts

pytestmark = pytest.mark.django_db(transaction=True)


def _send(member_api):
    response = member_api.post("/api/emails", {"to": "a@example.com", "subject": "Queued", "text": "x"}, format="json")
    assert response.status_code == 202 and response.json()["values"]["Status"] == "queued"
    return response.json()["id"]


def test_database_backend_queues_and_db_worker_delivers(member_api, site_provider_a, provider, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    resend_accepts(provider, "via-db-worker")

    entry_id = _send(member_api)
    assert not provider.calls
    call_command("db_worker", "--batch", "--interval", "0")

    entry = EmailLogEntry.objects.get(pk=entry_id)
    assert (entry.status, entry.message_id) == ("delivered", "via-db-worker")


def _redis_answers(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except (redis.ConnectionError, redis.TimeoutError):
        return False


def test_rq_backend_queues_on_redis_and_an_rq_worker_delivers(member_api, site_provider_a, provider, settings, unavailable):
    import django_rq
    from django_tasks_rq.backend import Job
    from rq import SimpleWorker

    redis_url = settings.RQ_QUEUES["default"]["URL"]
    if not _redis_answers(redis_url):
        unavailable(f"Redis is not running on {redis_url} (REDIS_URL)")
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    queue = django_rq.get_queue("default", job_class=Job)
    queue.empty()
    resend_accepts(provider, "via-rq")

    entry_id = _send(member_api)
    assert not provider.calls
    SimpleWorker([queue], connection=queue.connection, job_class=Job).work(burst=True)

    entry = EmailLogEntry.objects.get(pk=entry_id)
    assert (entry.status, entry.message_id) == ("delivered", "via-rq")
