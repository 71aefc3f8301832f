"""Provider events: receive a signed webhook request, store each event once, and keep the row's Status and
Error true (SPEC §9).

A batch costs a constant number of statements whatever its size (on PostgreSQL; see opbox/bulk.py): match the
rows (one or two SELECTs), lock the rows whose recipients failed, insert the events in one `INSERT ... ON
CONFLICT DO NOTHING RETURNING` (so duplicates, racing requests included, are stored once and counted
exactly), read those rows' failures, update the changed rows in one UPDATE, record the suppressions.
Locks are taken in one order (rows, then events, then suppressions, each sorted), so two requests never
wait on each other in a cycle.
"""

import logging
from collections import defaultdict
from dataclasses import replace

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from integrations.crypto import EncryptionError
from integrations.models import Integration
from integrations.providers import EmailProvider, WebhookBatch, WebhookError, WebhookEvent, WebhookSignatureError
from opbox.bulk import insert_ignoring_conflicts, update_each
from workspaces.models import WorkspaceEventType

from ..addresses import ADDRESS_LIKE, mention_of
from ..models import MAX_ERROR_LENGTH, EmailEvent, EmailLogEntry, EmailStatus, EventType, SuppressionReason
from ..outgoing_events import PROVIDER_EVENTS, record_email_events
from .suppressions import ERASED, record_suppressions, suppressions_among

logger = logging.getLogger(__name__)

# Events that mean a recipient will not get the email; every recipient failing fails the row.
FAILURES = {EventType.BOUNCED: "Bounced", EventType.DROPPED: "Dropped"}
MAX_EVENTS = 10_000  # per request: far above a provider's batch (SendGrid's are ~1 MB), and bounds one transaction
_DETAIL_LENGTH = EmailEvent._meta.get_field("detail").max_length


class TooManyEvents(WebhookError):
    http_status = 413


def receive_webhook(provider: EmailProvider, integration_id: str, headers, body: bytes) -> dict:
    """Verify a provider's webhook request for one integration, then apply its events; returns the counts.

    Raises WebhookSignatureError (401) when the integration does not exist, is of another provider, has no
    webhook secret, or the signature does not hold; MalformedWebhook (400) for a signed body we cannot read;
    TooManyEvents (413) past MAX_EVENTS.
    Nothing is written in either case. A disabled integration still receives events for what it sent.
    """
    # (A NUL cannot be in an id, and PostgreSQL refuses it in a query.)
    integration = None if "\x00" in integration_id else Integration.objects.filter(pk=integration_id, type=provider.type).first()
    if integration is None:
        raise WebhookSignatureError(f"No {provider.slug} integration {integration_id!r}.")
    try:
        secret = integration.webhook_secret
    except EncryptionError as error:  # the server's key ring, not the caller, is at fault; the provider retries
        logger.error("Webhook secret of integration %s cannot be read: %s", integration.pk, error)
        raise WebhookSignatureError("The webhook secret cannot be read.") from None
    if not secret:
        raise WebhookSignatureError(f"Integration {integration.pk} has no webhook secret.")
    client = provider.client_class
    client.verify_webhook(secret, headers, body)
    batch = client.parse_webhook(headers, body)
    if len(batch.events) > MAX_EVENTS:
        raise TooManyEvents(f"At most {MAX_EVENTS} events in one request.")
    counts = apply_events(integration, batch)
    # After the commit, outside the transaction: concurrent requests must not queue on the integration's row.
    Integration.objects.filter(pk=integration.pk).update(last_event_at=timezone.now())
    return counts


def apply_events(integration: Integration, batch: WebhookBatch) -> dict:
    """Store the batch's events about emails `integration` sent, each once, and update their rows.

    Returns {"received", "applied", "duplicates", "unmatched"}: events in the request, newly stored, already
    stored (or repeated within the request), and about no email of this integration (not stored). Events of
    types we do not keep count only in `received`.
    """
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _apply(integration, batch)
        except (IntegrityError, OperationalError):
            # A row deleted under us (retention) or a lock conflict with another writer: match afresh, once.
            if attempt:
                raise
            logger.warning("Retrying a webhook batch for integration %s after a conflict", integration.pk)
    raise AssertionError("unreachable")


def _apply(integration: Integration, batch: WebhookBatch) -> dict:
    counts = {"received": batch.received, "applied": 0, "duplicates": 0, "unmatched": 0}
    unique: dict[str, WebhookEvent] = {}
    for event in batch.events:
        if event.event_id in unique:
            counts["duplicates"] += 1
        else:
            unique[event.event_id] = event
    rows = _matching_rows(integration, unique.values())
    matched = _keep_erased_out(integration.workspace_id, [event for event in unique.values() if event.event_id in rows])
    counts["unmatched"] = len(unique) - len(matched)
    locked = lock_rows({rows[event.event_id] for event in matched if event.type in FAILURES})
    inserted = _insert_new(integration, matched, rows)
    new = [event for event in matched if event.event_id in inserted]
    counts["applied"], counts["duplicates"] = len(new), counts["duplicates"] + len(matched) - len(new)
    failed = _settle_failures(locked, {rows[event.event_id] for event in new if event.type in FAILURES})
    _suppress(integration.workspace_id, new, rows)
    # The workspace's subscribers hear of each applied event, and of each row it failed, with this commit.
    heard = [(rows[event.event_id], PROVIDER_EVENTS[event.type]) for event in sorted(new, key=lambda e: e.occurred_at) if event.type in PROVIDER_EVENTS]
    record_email_events(heard + [(row_id, WorkspaceEventType.EMAIL_FAILED) for row_id in sorted(failed)])
    return counts


def _matching_rows(integration: Integration, events) -> dict[str, str]:
    """event id -> id of the row it is about, among the rows `integration` sent: by the row id the send
    carried, else by the provider's message id. Two queries at most."""
    events = list(events)
    sent_by_it = EmailLogEntry.objects.filter(integration_id=integration.pk)
    row_ids = {event.email_id for event in events if event.email_id}
    known = set(sent_by_it.filter(pk__in=row_ids).values_list("pk", flat=True)) if row_ids else set()
    message_ids = {event.message_id for event in events if event.message_id and event.email_id not in known}
    by_message = dict(sent_by_it.filter(message_id__in=message_ids).values_list("message_id", "pk")) if message_ids else {}
    rows = {}
    for event in events:
        row = event.email_id if event.email_id in known else by_message.get(event.message_id)
        if row is not None:
            rows[event.event_id] = row
    return rows


def _keep_erased_out(workspace_id, events: list[WebhookEvent]) -> list[WebhookEvent]:
    """The events, with every address the workspace erased (its suppression holds the hash alone) replaced by
    `[erased]`, as recipient and where the detail names it: providers report on an email for days after it
    went (SendGrid's bounces, up to 72 hours), and an erasure must hold against what arrives late. One query.
    """
    named = {address for event in events for address in (event.recipient, *event.addresses, *ADDRESS_LIKE.findall(event.detail)) if address}
    erased = {address.strip().lower() for address in suppressions_among(workspace_id, named)[1]} if named else set()
    if not erased:
        return events
    kept_out = []
    for event in events:
        detail = event.detail
        for address in erased:
            detail = mention_of(address).sub(ERASED, detail)
        recipient = ERASED if event.recipient.strip().lower() in erased else event.recipient
        kept_out.append(replace(event, recipient=recipient, detail=detail))
    return kept_out


def lock_rows(row_ids) -> dict[str, dict]:
    """The rows' status, error and recipients, locked until the commit: in primary-key order, the one order
    every writer of rows (webhooks, the settle, erasure, the claim) locks them in, so lockers never cycle.

    NO KEY UPDATE: it does not block the key-share locks other requests' event inserts take on the rows.
    """
    if not row_ids:
        return {}
    rows = (
        EmailLogEntry.objects.select_for_update(no_key=True)
        .filter(pk__in=list(row_ids))
        .order_by("pk")
        .values("pk", "status", "error", "to", "cc", "bcc")
    )
    return {row["pk"]: row for row in rows}


def stored_failures(row_ids) -> dict[str, list[tuple[str, str, str]]]:
    """Each row's stored bounces and drops (type, recipient, detail), oldest first; one query."""
    failures = defaultdict(list)
    if row_ids:
        stored = EmailEvent.objects.filter(entry_id__in=list(row_ids), type__in=list(FAILURES)).order_by("occurred_at", "id")
        for row_id, kind, recipient, detail in stored.values_list("entry_id", "type", "recipient", "detail"):
            failures[row_id].append((kind, recipient, detail))
    return failures


def _insert_new(integration: Integration, events: list[WebhookEvent], rows: dict[str, str]) -> set[str]:
    """Insert the events, skipping those already stored; returns the ids of the ones inserted now.

    The unique (integration, provider event id) constraint decides, so concurrent requests carrying the
    same event store it once and only one of them counts it as applied. Rows go in event id order.
    """
    now = timezone.now()
    values = [
        (rows[e.event_id], integration.pk, e.event_id, e.type, e.recipient, e.occurred_at, " ".join(e.detail.split())[:_DETAIL_LENGTH], now)
        for e in sorted(events, key=lambda event: event.event_id)
    ]
    names = ["entry", "integration", "provider_event_id", "type", "recipient", "occurred_at", "detail", "received_at"]
    return set(insert_ignoring_conflicts(EmailEvent, names, values, conflict=["integration", "provider_event_id"], returning="provider_event_id"))


def _settle_failures(locked: dict[str, dict], row_ids: set[str]) -> set[str]:
    """Recompute Status and Error of the rows that got a new bounce or drop, from all their stored failures;
    returns the rows that became failed."""
    row_ids = {row_id for row_id in row_ids if locked[row_id]["status"] != EmailStatus.FAILED}  # failed stays failed
    if not row_ids:
        return set()
    failures = stored_failures(row_ids)
    changed = {}
    for row_id in sorted(row_ids):
        row = locked[row_id]
        outcome = failure_outcome(row, failures[row_id])
        if outcome != (row["status"], row["error"]):
            changed[row_id] = outcome
    update_each(EmailLogEntry, ["status", "error"], changed)
    return {row_id for row_id, (status, _) in changed.items() if status == EmailStatus.FAILED}


def failure_outcome(row: dict, failures: list[tuple[str, str, str]]) -> tuple[str, str]:
    """(status, error) of a row that is not failed, given its failures (type, recipient, detail), oldest first.

    Every recipient failed -> `failed`; an event about the whole email (recipient "") counts for all of them.
    Otherwise the status stays. The Error keeps what it said and names each failed recipient once:
    `Bounced: ada@example.com - 550 5.1.1 mailbox unavailable`.
    """
    # The row lists validated addresses (and `[erased]`) joined by commas.
    recipients = {part.strip().lower() for field in ("to", "cc", "bcc") for part in row[field].split(",") if part.strip()}
    lines: dict[str, str] = {}  # recipient (lower-cased; "" = the whole email) -> its first failure
    for kind, recipient, detail in failures:
        who = recipient.strip()
        mention = f"{FAILURES[kind]}: {who or row['to']}"
        lines.setdefault(who.lower(), f"{mention} - {detail}" if detail else mention)
    everyone = "" in lines or bool(recipients and recipients <= set(lines))
    parts = [part for part in row["error"].split("; ") if part]
    for line in lines.values():
        mention = line.split(" - ", 1)[0]
        if not any(part == mention or part.startswith(f"{mention} - ") for part in parts):
            parts.append(line)
    return (EmailStatus.FAILED if everyone else row["status"]), "; ".join(parts)[:MAX_ERROR_LENGTH]


def _suppress(workspace_id, events: list[WebhookEvent], rows: dict[str, str]) -> None:
    """A permanent bounce or a complaint stops the workspace sending to the addresses it concerns."""
    items = []
    for event in events:
        if event.type == EventType.COMPLAINED:
            reason = SuppressionReason.COMPLAINED
        elif event.type == EventType.BOUNCED and event.permanent:
            reason = SuppressionReason.BOUNCED
        else:
            continue
        items += [(address, reason, rows[event.event_id]) for address in event.addresses]
    if items:
        # In address order: two requests inserting the same addresses never wait on each other in a cycle.
        record_suppressions(workspace_id, sorted(items, key=lambda item: item[0].strip().lower()))
