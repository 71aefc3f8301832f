"""Links from a document to what sits above this app: the page of the email it went with. `email_logs` sets the
resolver in its `ready()` (documents never import it)."""

from collections.abc import Callable

_email_page: Callable[[object, str], str | None] | None = None


def register_email_page(resolver: Callable[[object, str], str | None]) -> None:
    global _email_page
    _email_page = resolver


def email_page_url(workspace, email_id: str) -> str | None:
    """The URL of the page of the workspace's email `email_id`, or None (no email, or nothing registered)."""
    if not email_id or _email_page is None:
        return None
    return _email_page(workspace, email_id)
