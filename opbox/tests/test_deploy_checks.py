"""Production settings: `check --deploy` is clean, and the app refuses to start without its secrets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-0123456789abcdefghijkl",
    "OPBOX_ENCRYPTION_KEYS": "dGVzdC1rZXktb25lLTMyLWJ5dGVzLWxvbmctLS0tLS0=",
    "ALLOWED_HOSTS": "opbox.example",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def manage(*args, **env):
    # A clean environment, so neither the test settings nor a developer's .env leak in.
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "opbox.settings", "OPBOX_ENV_FILE": "/nonexistent", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory):
    """STATIC_ROOT after the release's build step (`collectstatic`), as the deploy check expects it."""
    root = tmp_path_factory.mktemp("static")
    result = manage("collectstatic", "--noinput", **PRODUCTION, STATIC_ROOT=str(root))
    assert result.returncode == 0, result.stderr
    return str(root)


def test_check_deploy_reports_nothing_with_production_settings(collected_static):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, STATIC_ROOT=collected_static)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_names_collectstatic_when_it_did_not_run(tmp_path):
    result = manage("check", "--deploy", **PRODUCTION, STATIC_ROOT=str(tmp_path))

    assert result.returncode != 0
    assert "opbox.E001" in result.stderr and "collectstatic" in result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "OPBOX_ENCRYPTION_KEYS"])
def test_production_refuses_to_start_without_its_secrets(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}

    result = manage("check", **env)

    assert result.returncode != 0
    assert missing in result.stderr


def test_a_malformed_encryption_key_is_a_named_system_check_error():
    result = manage("check", **{**PRODUCTION, "OPBOX_ENCRYPTION_KEYS": "not-a-key"})

    assert result.returncode != 0
    assert "integrations.E001" in result.stderr


@pytest.mark.parametrize(
    "database_url, backend",
    [("postgres://opbox@db.example:5432/opbox", "django_tasks_db.DatabaseBackend"), ("sqlite:///first-run.sqlite3", "django_tasks.backends.immediate.ImmediateBackend")],
)
def test_sends_go_to_db_workers_on_postgresql_and_inline_on_sqlite_by_default(database_url, backend):
    result = manage("shell", "-c", "from django.conf import settings; print(settings.TASKS['default']['BACKEND'])", **{**PRODUCTION, "DATABASE_URL": database_url})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == backend
