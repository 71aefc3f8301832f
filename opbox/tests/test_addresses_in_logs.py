"""No email address reaches a log line that an erasure (SPEC §12) cannot reach: delivery logs entry ids and
error classes, never the provider's text (Resend echoes recipients in it); the access log and Django's request
warnings mask the address of DELETE /api/suppressions/<address> and the Suppressions page's remove form."""

import logging
import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
import responses
from django.conf import settings
from gunicorn.config import Config

from email_logs.models import EmailLogEntry
from email_logs.tests.conftest import PROVIDER_A
from workspaces.models import Role

CANARY = "log.canary@clientco.example"


@pytest.fixture
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def _everything_logged(caplog) -> str:
    return "\n".join(f"{record.getMessage()} {record.args!r} {record.exc_text or ''}" for record in caplog.records)


@pytest.mark.django_db(transaction=True)  # sends go out on commit, as in production
@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"status": 422, "json": {"name": "validation_error", "message": f"Invalid `to` field: {CANARY}"}}, id="refused"),
        pytest.param({"status": 503, "json": {"message": f"Could not deliver to {CANARY}"}}, id="unavailable on every attempt"),
    ],
)
def test_a_failed_send_logs_its_entry_id_and_error_class_never_the_address(member_api, make_integration, settings, all_logs, answer):
    settings.EMAIL_SEND_MAX_BACKOFF = 0
    make_integration("EMAIL_PROVIDER", set_as_site_email_provider=True)
    with responses.RequestsMock() as provider:
        provider.add(responses.POST, f"{PROVIDER_A}/emails", **answer)
        response = member_api.post("/api/emails", {"to": CANARY, "subject": "Papers", "text": "x"}, format="json")

    entry = EmailLogEntry.objects.get()
    assert response.status_code == 502 and CANARY in entry.error  # the row, which an erasure reaches, keeps the reason
    logged = _everything_logged(all_logs)
    assert entry.pk in logged and "Provider" in logged, logged  # the entry's id and the error's class
    assert CANARY not in logged


@pytest.mark.django_db
def test_django_request_warnings_mask_the_address_in_the_path(admin_api, pages_as, all_logs):
    admin_api.delete(f"/api/suppressions/{CANARY}")  # not suppressed: a 404, logged as a warning
    admin_api.delete("/api/suppressions/a/b@clientco.example")
    pages_as(Role.ADMIN).post(f"/settings/suppressions/{CANARY}/remove/")  # a 404 page

    warnings = [record.getMessage() for record in all_logs.records if record.name == "django.request"]
    assert warnings == ["Not Found: /api/suppressions/[address]"] * 2 + ["Not Found: /settings/suppressions/[address]/remove/"]
    assert "clientco" not in _everything_logged(all_logs)


def _access_line(method: str, raw_uri: str, status: str = "404 Not Found", access_log_format: str | None = None) -> str:
    """The line gunicorn's access log writes for one request, with the project's gunicorn.conf.py settings
    (and `access_log_format` in place of its format, when given)."""
    conf = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
    config = Config()
    for name in ("accesslog", "access_log_format"):
        config.set(name, conf[name])
    if access_log_format is not None:
        config.set("access_log_format", access_log_format)
    config.set("logger_class", conf.get("logger_class", "gunicorn.glogging.Logger"))
    logger = config.logger_class(config)
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger.access_log.addHandler(handler)
    path, _, query = raw_uri.partition("?")
    environ = {
        "REQUEST_METHOD": method, "RAW_URI": raw_uri, "PATH_INFO": unquote(path), "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_REFERER": f"http://127.0.0.1/settings/suppressions/?q={CANARY}",
    }  # fmt: skip
    response = SimpleNamespace(status=status, headers=[("X-Request-ID", "r1")], sent=0)
    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=3))
    return "\n".join(lines)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "raw_uri", "masked_path"),
    [
        ("DELETE", f"/api/suppressions/{CANARY}", "/api/suppressions/[address]"),
        ("DELETE", "/api/suppressions/log.canary%40clientco.example/", "/api/suppressions/[address]/"),
        ("DELETE", "/api/suppressions/a%2Fb@clientco.example", "/api/suppressions/[address]"),
        ("POST", f"/settings/suppressions/{CANARY}/remove/", "/settings/suppressions/[address]/remove/"),
        ("GET", f"/api/suppressions?q={CANARY}", "/api/suppressions"),
    ],
)
def test_the_access_log_masks_addresses(method, raw_uri, masked_path):
    line = _access_line(method, raw_uri)

    assert f'"{method} {masked_path}"' in line and "rid=r1" in line, line
    assert "clientco" not in line


def test_another_format_prints_a_header_named_in_any_case_and_masks_the_referer():
    line = _access_line("GET", "/api/integrations", access_log_format='%(U)s rid=%({X-Request-ID}o)s ref=%(f)s')

    assert line.startswith("/api/integrations rid=r1 ref=http://127.0.0.1/settings/suppressions/?q=[address]"), line
    assert "clientco" not in line


def test_the_access_log_is_written_by_the_masking_logger():
    from opbox.gunicorn_logging import AddressMaskingLogger

    conf = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
    config = Config()
    config.set("logger_class", conf.get("logger_class", "gunicorn.glogging.Logger"))

    assert config.logger_class is AddressMaskingLogger
