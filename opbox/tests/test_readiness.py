"""A deploy that skipped a step says so before it serves (SPEC §11): no collected static files, a dropped
encryption key, emails waiting with no worker. /readyz, the system checks and the pages."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.checks.registry import registry
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from email_logs.models import EmailStatus
from email_logs.tests.factories import add_rows
from integrations.crypto import KeyRing, decode_key, key_id_for
from integrations.models import Integration
from opbox import health
from tables.models import Table
from workspaces.models import Role

pytestmark = pytest.mark.django_db

KEY_ONE = "dGVzdC1rZXktb25lLTMyLWJ5dGVzLWxvbmctLS0tLS0="  # the test settings' first key: it encrypts
KEY_TWO = "dGVzdC1rZXktdHdvLTMyLWJ5dGVzLWxvbmctLS0tLS0="
KEY_NEW = "bmV3LWtleS0zMi1ieXRlcy1sb25nLWZvci10ZXN0cyE="


def key_id(encoded: str) -> str:
    return key_id_for(decode_key(encoded))


def readyz(client):
    response = client.get("/readyz")
    return response.status_code, response.json()


@pytest.fixture
def no_manifest(settings, tmp_path):
    """Production's static storage (DEBUG off) over a STATIC_ROOT where collectstatic never ran."""
    settings.STATIC_ROOT = tmp_path / "never-collected"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "opbox.staticfiles.ForgivingManifestStaticFilesStorage"}}


# The happy path ------------------------------------------------------------------------------------


def test_readyz_names_each_check_and_reports_the_email_backlog(client, make_integration):
    make_integration("EMAIL_PROVIDER")

    status, body = readyz(client)

    assert status == 200, body
    assert body["status"] == "ok"
    assert body["checks"] == {"migrations": "ok", "staticFiles": "ok", "encryptionKeys": "ok"}
    assert body["backlogs"]["queuedEmails"] == {"count": 0, "oldestAgeSeconds": None}


def test_readyz_loads_the_migration_graph_once_per_process(client, monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)
    with CaptureQueriesContext(connection) as first:
        assert client.get("/readyz").status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get("/readyz").status_code == 200

    assert any("django_migrations" in query["sql"] for query in first.captured_queries)
    assert not any("django_migrations" in query["sql"] for query in second.captured_queries)


# 3. No collected static files ---------------------------------------------------------------------


def test_no_static_manifest_is_a_deploy_check_error_naming_collectstatic(no_manifest):
    with pytest.raises(SystemCheckError) as failed:
        call_command("check", "--deploy", stdout=StringIO(), stderr=StringIO())

    assert "opbox.E001" in str(failed.value) and "collectstatic" in str(failed.value)


def test_no_static_manifest_makes_readyz_503_naming_collectstatic(client, no_manifest):
    status, body = readyz(client)

    assert status == 503
    assert body["status"] == "unavailable" and "collectstatic" in body["checks"]["staticFiles"]


def test_no_static_manifest_leaves_every_page_serving_unstyled_instead_of_500(client, pages_as, make_integration, no_manifest):
    make_integration("EMAIL_PROVIDER")
    table = Table.objects.get()
    member = pages_as(Role.MEMBER)

    for page_client, path in [(client, "/login/"), (member, "/tables/"), (member, f"/tables/{table.pk}/"), (member, "/settings/integrations/")]:
        response = page_client.get(path)
        assert response.status_code == 200, path
        assert 'href="/static/css/opbox.css"' in response.content.decode(), path  # the unhashed name, not a 500


def test_with_a_manifest_the_static_check_passes(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    (tmp_path / "staticfiles.json").write_text('{"paths": {}, "version": "1.1", "hash": ""}')
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "opbox.staticfiles.ForgivingManifestStaticFilesStorage"}}

    errors = [m for m in registry.run_checks(include_deployment_checks=True) if m.id == "opbox.E001"]

    assert errors == []


# 4. Stored credentials under a key the ring lacks --------------------------------------------------


def test_a_stored_key_id_missing_from_the_ring_fails_the_database_check_and_readyz(client, make_integration, settings):
    make_integration("EMAIL_PROVIDER")  # sealed under KEY_ONE
    make_integration("WEBHOOK")
    settings.OPBOX_ENCRYPTION_KEYS = [KEY_NEW, KEY_TWO]  # KEY_ONE dropped too early

    with pytest.raises(SystemCheckError) as failed:
        call_command("check", "--database", "default", stdout=StringIO(), stderr=StringIO())
    status, body = readyz(client)

    assert "integrations.E002" in str(failed.value) and f"{key_id(KEY_ONE)} (2 integrations)" in str(failed.value)
    assert status == 503 and key_id(KEY_ONE) in body["checks"]["encryptionKeys"]
    assert key_id(KEY_TWO) not in body["checks"]["encryptionKeys"]


def test_keys_kept_in_the_ring_pass_the_key_check(client, make_integration, settings):
    make_integration("EMAIL_PROVIDER")
    settings.OPBOX_ENCRYPTION_KEYS = [KEY_NEW, KEY_ONE]  # rotated, old key still there

    call_command("check", "--database", "default", stdout=StringIO(), stderr=StringIO())
    status, body = readyz(client)

    assert status == 200 and body["checks"]["encryptionKeys"] == "ok"


def test_the_key_check_reads_prefixes_and_decrypts_nothing(make_integration, settings, monkeypatch):
    from integrations import checks

    make_integration("EMAIL_PROVIDER")
    settings.OPBOX_ENCRYPTION_KEYS = [KEY_NEW]

    def refuse(*args, **kwargs):
        raise AssertionError("decrypted")

    monkeypatch.setattr(KeyRing, "decrypt", refuse)

    assert key_id(KEY_ONE) in checks.missing_key_problem()


# rotate_encryption_keys --dry-run -----------------------------------------------------------------


def sealed_values():
    return sorted(Integration.objects.values_list("pk", "credentials"))


def test_the_dry_run_prints_counts_per_key_id_and_writes_nothing(make_integration, settings):
    make_integration("EMAIL_PROVIDER")
    make_integration("WEBHOOK")
    settings.OPBOX_ENCRYPTION_KEYS = [KEY_NEW, KEY_ONE]
    make_integration("CLOUD_STORAGE", credentials={"accessToken": "at_1234567890", "refreshToken": "rt_1234567890"})
    before = sealed_values()
    out = StringIO()

    with CaptureQueriesContext(connection) as queries:
        call_command("rotate_encryption_keys", "--dry-run", stdout=out)

    text = out.getvalue()
    assert f"key {key_id(KEY_ONE)}: 2 integration(s) would be re-encrypted" in text
    assert f"key {key_id(KEY_NEW)}: 1 integration(s), already under the first key" in text
    assert "nothing is written" in text
    assert sealed_values() == before
    assert not [q for q in queries.captured_queries if q["sql"].split()[0].upper() in ("UPDATE", "INSERT", "DELETE")]


def test_the_dry_run_names_a_key_id_it_cannot_re_encrypt(make_integration, settings):
    make_integration("EMAIL_PROVIDER")
    settings.OPBOX_ENCRYPTION_KEYS = [KEY_NEW]
    out = StringIO()

    call_command("rotate_encryption_keys", "--dry-run", stdout=out)

    assert f"key {key_id(KEY_ONE)}: 1 integration(s) NOT in OPBOX_ENCRYPTION_KEYS" in out.getvalue()


# 5. Emails waiting with no worker -----------------------------------------------------------------


def queued_email(table, minutes_ago):
    (row,) = add_rows(table, 1, status=EmailStatus.QUEUED, start=timezone.now() - timedelta(minutes=minutes_ago))
    return row


def test_readyz_reports_queued_emails_and_the_oldest_age_without_failing(client, make_integration):
    make_integration("EMAIL_PROVIDER")
    table = Table.objects.get()
    queued_email(table, 12)
    queued_email(table, 1)

    status, body = readyz(client)

    assert status == 200  # a web node cannot fix a missing worker: it stays in rotation
    backlog = body["backlogs"]["queuedEmails"]
    assert backlog["count"] == 2 and 12 * 60 <= backlog["oldestAgeSeconds"] < 13 * 60


def test_the_tables_pages_warn_when_emails_waited_over_5_minutes(pages_as, make_integration):
    make_integration("EMAIL_PROVIDER")
    table = Table.objects.get()
    queued_email(table, 6)
    member = pages_as(Role.MEMBER)

    for path in ("/tables/", f"/tables/{table.pk}/"):
        page = member.get(path).content.decode()
        assert "1 emails waiting to be sent" in page and "db_worker" in page, path


def test_no_warning_for_emails_queued_a_moment_ago_or_in_another_workspace(pages_as, make_integration, other_workspace):
    make_integration("EMAIL_PROVIDER")
    make_integration("EMAIL_PROVIDER", in_workspace=other_workspace)
    own, other = Table.objects.get(workspace__slug="acme"), Table.objects.exclude(workspace__slug="acme").get()
    queued_email(own, 1)
    queued_email(other, 30)

    page = pages_as(Role.MEMBER).get("/tables/").content.decode()

    assert "waiting to be sent" not in page
