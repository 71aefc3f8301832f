"""Errors of the integrations app that callers (the API, the pages, email sending) catch by name."""

from opbox.errors import ApplicationError


class EmailProviderNotConfigured(ApplicationError):
    """No usable email integration for what was asked: the API answers 409 with this text."""

    http_status = 409


class CredentialsUnreadable(ApplicationError):
    """The stored credentials cannot be decrypted with OPBOX_ENCRYPTION_KEYS (the text names the key id): 503,
    a deploy to fix, not a request to change."""

    http_status = 503
