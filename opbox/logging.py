"""Structured JSON log lines carrying the request id, for production log pipelines; and email addresses kept
out of the lines that name a request's URL (Django's request warnings, gunicorn's access log): a log file is
out of reach of an erasure (SPEC §12)."""

import contextvars
import json
import logging
import re
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "requestId": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


ADDRESS_MASK = "[address]"
# Anything shaped like an address in a URL, raw or percent-encoded (`?q=ada%40example.com`).
_ADDRESS = re.compile(r"[^\s/?&=#\"'<>]*(?:@|%40)[^\s/?&=#\"'<>]*", re.IGNORECASE)
# Paths whose `address` group is an email address, registered by the apps that route them (AppConfig.ready):
# they mask the whole address, even one holding a `/`.
_address_paths: list[re.Pattern] = []


def mask_address_paths(*patterns: str) -> None:
    """Register regular expressions of paths whose named group `address` is an email address."""
    _address_paths.extend(re.compile(pattern) for pattern in patterns)


def mask_addresses(text: str) -> str:
    """`text` with the address of every registered path, and anything else shaped like an address, masked."""
    for pattern in _address_paths:
        text = pattern.sub(lambda match: _mask_group(match, "address"), text)
    return _ADDRESS.sub(ADDRESS_MASK, text)


def _mask_group(match: re.Match, group: str) -> str:
    start, end = match.start(group) - match.start(), match.end(group) - match.start()
    whole = match.group(0)
    return whole[:start] + ADDRESS_MASK + whole[end:]


class AddressMaskingFilter(logging.Filter):
    """Masks addresses in a record's message and arguments (Django's `Not Found: /api/suppressions/<address>`).

    On a logger, not a handler: every handler, and pytest's capture, then sees the masked record."""

    def filter(self, record):
        if isinstance(record.msg, str):
            record.msg = mask_addresses(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask_addresses(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True
