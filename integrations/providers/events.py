"""What a connector is handed to deliver workspace events (SPEC §15), and the declarations generic delivery
code reads from a client class: which events it takes by default, how many it takes a call, what it retries.

The deliveries app calls `client.deliver(events)` and reads these; it never names a service.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

ALL_EVENTS = ("*",)  # a receiver's default: every event type


@dataclass(frozen=True)
class OutgoingEvent:
    """One delivery's event: `message_id` is the delivery's id (the `webhook-id`, the same on every retry)."""

    message_id: str
    type: str
    timestamp: datetime
    data: dict  # the body's `data`: the email's row, the document's row or the integration's identity
    link: str  # the absolute URL of the page of what the event is about ("" when it has none)
    document: "DocumentFile | None" = None  # a document.* event's file, for receivers that archive it
    attempt: int = 1  # this delivery's attempt number (1: the first), for receivers that look before a retry


class DocumentFile(Protocol):
    """A generated document's stored file, as a receiver uploads it."""

    filename: str
    content_type: str

    def read(self) -> bytes: ...


def email_values(event: OutgoingEvent) -> dict:
    """The row's column values ({"To": ..., "Subject": ...}) of an email.* (or document.*) event; {} for others."""
    values = event.data.get("values") if isinstance(event.data, dict) else None
    return values if isinstance(values, dict) else {}


def sentence(event: OutgoingEvent) -> str:
    """One sentence a person reads in a notification, with the link to the page it is about."""
    data, kind = event.data, event.type
    if kind.startswith("email."):
        values = email_values(event)
        what = f"The email {values.get('Subject') or '(no subject)'!r} to {values.get('To') or 'its recipients'}"
        happened = {
            "email.sent": "was accepted by the provider",
            "email.failed": "failed",
            "email.delivered": "was delivered",
            "email.bounced": "bounced",
            "email.complained": "was marked as spam",
            "email.opened": "was opened",
            "email.clicked": "had a link clicked",
        }.get(kind, kind)
        error = values.get("Error")
        text = f"{what} {happened}" + (f": {error}" if error and kind in ("email.failed", "email.bounced") else "") + "."
    elif kind.startswith("integration."):
        name = data.get("name") or "An integration"
        detail = data.get("lastCheckDetail") or ""
        happened = "needs reconnecting" if kind == "integration.reconnect_needed" else "failed its connection check"
        text = f"The integration {name!r} {happened}" + (f": {detail}" if detail else ".")
    elif kind.startswith("document."):
        values = email_values(event)  # a document's row has the same shape: its column values
        name = values.get("Filename") or data.get("id") or "(unnamed)"
        error = values.get("Error")
        text = f"The document {name!r} was generated." if kind == "document.generated" else f"The document {name!r} failed" + (f": {error}" if error else ".")
    else:
        text = f"{kind}: {data.get('id') or ''}".strip()
    return f"{text} {event.link}".strip() if event.link else text
