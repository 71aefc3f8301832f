"""What the providers' webhook parsers return, in words that do not depend on the provider.

Each client class verifies its provider's signature (`verify_webhook`) and reads its events
(`parse_webhook`); the receiving view and the event service only ever see these dataclasses.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .exceptions import MalformedWebhook

# How far a signed timestamp may be from now, either way: a captured request cannot be replayed later.
SIGNATURE_TOLERANCE = timedelta(minutes=5)
MAX_EVENT_ID_LENGTH = 255  # the provider's event id is the deduplication key

# The normalised event types (SPEC §9): each provider's parser maps its own names onto these.
ACCEPTED, DELIVERED, DEFERRED = "accepted", "delivered", "deferred"
BOUNCED, DROPPED, COMPLAINED = "bounced", "dropped", "complained"
OPENED, CLICKED, UNSUBSCRIBED = "opened", "clicked", "unsubscribed"
EVENT_TYPES = (ACCEPTED, DELIVERED, DEFERRED, BOUNCED, DROPPED, COMPLAINED, OPENED, CLICKED, UNSUBSCRIBED)


@dataclass(frozen=True)
class WebhookEvent:
    """One event a provider reported about one email it sent for us."""

    event_id: str  # the provider's id for the event: the same event posted again carries the same id
    type: str  # one of EVENT_TYPES
    occurred_at: datetime  # aware, UTC
    message_id: str = ""  # the provider's message id, as our send stored it on the row ("" when absent)
    email_id: str = ""  # our row's id, when the send carried it and the provider echoes it back
    recipient: str = ""  # the one recipient it is about; "" when it is about the whole email
    addresses: tuple[str, ...] = ()  # the recipients it concerns: `recipient`, or the email's own for a whole-email event
    detail: str = ""  # the provider's reason or response, as given
    permanent: bool = False  # a bounce the provider says will not recover (hard bounce)


@dataclass(frozen=True)
class WebhookBatch:
    """What one verified request carried: its events of types we keep, and how many events it held in all."""

    received: int
    events: list[WebhookEvent] = field(default_factory=list)


def load_json(body: bytes):
    """The request's JSON, or MalformedWebhook (bad UTF-8, bad JSON, or nesting too deep to parse)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedWebhook("The body is not valid JSON.") from None


def text(value) -> str:
    """A JSON string value without NUL characters (no database stores them in text), or "" for anything else."""
    return value.replace("\x00", "") if isinstance(value, str) else ""


def event_id(value, where: str) -> str:
    """The provider's id of an event, or MalformedWebhook: the deduplication key must be usable as it is."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_EVENT_ID_LENGTH or "\x00" in value:
        raise MalformedWebhook(f"{where}: the event id is missing or not a string of at most {MAX_EVENT_ID_LENGTH} characters.")
    return value


def unix_time(value, where: str) -> datetime:
    """A Unix time in seconds (a JSON number) as an aware datetime, or MalformedWebhook."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedWebhook(f"{where}: the timestamp is not a number of seconds.")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        raise MalformedWebhook(f"{where}: the timestamp is out of range.") from None


def lower_headers(headers) -> dict[str, str]:
    """Request headers with lower-case names (HTTP header names are case-insensitive)."""
    return {str(name).lower(): str(value) for name, value in headers.items()}
