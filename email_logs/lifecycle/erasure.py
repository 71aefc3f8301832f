"""Erasure of one address (SPEC §12, GDPR Art. 17): its Email Log rows stay as records with the address
replaced by `[erased]`; its events go; its suppression keeps only the keyed hash.

The order closes the race with sends in flight:

1. Suppress first, committed on its own (hash only): from then on `send_email` withholds the address, so
   no later send carries it to the provider.
2. Scrub every row naming it, in short batches under row locks (a sender settling one of them waits a
   moment). A queued email no sender has tried yet loses the address from its outbox payload, or, with no
   To recipient left, is cancelled (failed, its outbox deleted): nothing more goes to the person. An email
   a sender holds or has already tried cannot be recalled (the provider may have it, and its retry must
   repeat the same send under the same idempotency key): its row is scrubbed and it is left to settle.
3. Delete its events.
4. A sweep (`sweep_by_hash`, the task `sweep_erased_address`) runs once the sends that may have raced the erasure have settled, and
   again while any email of step 2 is still being sent. It knows only the hash: it re-reads the rows and
   events that arrived since shortly before the erasure, and those emails' rows, hashes each address they
   name and scrubs matches: rows committed by a transaction that had checked suppressions before step 1,
   a provider's answer naming it that a settling sender wrote, events that came in meanwhile.
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from opbox.bulk import update_each
from opbox.transactions import run_transaction
from workspaces.models import AuditEvent, WorkspaceEvent

from ..addresses import ADDRESS_LIKE, mention_of
from ..events.suppressions import ERASED, address_hash, record_suppressions, validated_address
from ..models import EmailEvent, EmailLogEntry, EmailStatus, OutboundEmail, SendFailure, Suppression, SuppressionReason

BATCH_SIZE = 1000
# How long before an erasure a racing send may have read "not suppressed" and still commit after it: the
# sweep looks back this far. A caller holding its transaction open longer than this escapes the sweep.
RACE_WINDOW = timedelta(minutes=15)
_RECIPIENT_FIELDS = ("to", "cc", "bcc")
_SCRUBBED_FIELDS = (*_RECIPIENT_FIELDS, "subject", "error")
# Every recipient of To, CC and BCC, lower-cased: the expression of the PostgreSQL index `email_log_recipients`
# (migration 0007 repeats it; the two must stay identical for the index to be used).
RECIPIENTS_SQL = """regexp_split_to_array(lower("to" || ',' || "cc" || ',' || "bcc"), '\\s*,\\s*')"""


@dataclass
class Erasure:
    rows: int = 0
    events: int = 0
    suppressions: int = 0  # suppressions that held the address in clear (now the hash only)
    in_flight: list = field(default_factory=list)  # ids of emails naming it still being sent: the sweep follows them


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def scrubbed_fields(entry: EmailLogEntry, address: str) -> dict | None:
    """The row's fields with `address` (lower-cased) erased, or None when the row holds nothing of it.

    Named in To/CC/BCC: replaced there, and where it was the only recipient, Subject and Error go too.
    Otherwise only mentions in Subject or Error are replaced (e.g. a note naming a withheld recipient).
    """
    lists = {name: _split(getattr(entry, name)) for name in _RECIPIENT_FIELDS}
    named = [part.lower() == address for parts in lists.values() for part in parts]
    mention = mention_of(address)
    changes = {"subject": mention.sub(ERASED, entry.subject), "error": mention.sub(ERASED, entry.error)}
    if any(named):
        changes.update(
            {name: ", ".join(ERASED if part.lower() == address else part for part in parts) for name, parts in lists.items()}
        )
        if all(named):  # its only recipient: what the email was about goes too
            changes.update(subject=ERASED, error=ERASED if entry.error else "")
    elif changes == {"subject": entry.subject, "error": entry.error}:
        return None
    return changes


def _withdraw_from_outbox(outbox: OutboundEmail, address: str, now: datetime) -> bool:
    """Take `address` off a queued email not yet sent; cancel it when no To recipient is left. Returns True
    when the email is beyond recall: held by a sender, or already attempted (the provider may have it, and a
    retry must repeat the same send under the same key), so it is left to settle; the sweep follows it."""
    held = outbox.lease_expires_at is not None and outbox.lease_expires_at > now
    if held or outbox.attempts:
        return True
    payload = dict(outbox.payload)
    for name in _RECIPIENT_FIELDS:
        payload[name] = [each for each in payload.get(name, []) if each.strip().lower() != address]
    if payload["to"]:
        outbox.payload = payload
        outbox.save(update_fields=["payload"])
        return False
    # Scrubbed a moment ago in this transaction: its Subject is [erased] exactly when the address was its only recipient.
    only_recipient = EmailLogEntry.objects.filter(pk=outbox.entry_id, subject=ERASED).exists()
    error = ERASED if only_recipient else "Not sent: every To recipient was erased."
    EmailLogEntry.objects.filter(pk=outbox.entry_id).update(status=EmailStatus.FAILED, error=error, failure=SendFailure.ERASED)
    outbox.delete()
    return False


def scrub_rows(ids, address: str) -> tuple[int, list[str]]:
    """Erase `address` from these rows, their unsent outboxes and their events' text, in one short
    transaction (run again if it loses a deadlock); returns how many rows held it, and the ids of those
    still being sent."""
    return run_transaction(lambda: _scrub_rows(ids, address))


def _scrub_rows(ids, address: str) -> tuple[int, list[str]]:
    now = timezone.now()
    with transaction.atomic():
        changed = []
        # In primary-key order, as every writer of rows locks them (a settle or a webhook may hold some).
        rows = EmailLogEntry.objects.filter(pk__in=list(ids)).select_for_update(no_key=True).order_by("pk")
        for entry in rows.only("pk", "status", *_SCRUBBED_FIELDS):
            if (changes := scrubbed_fields(entry, address)) is not None:
                for name, value in changes.items():
                    setattr(entry, name, value)
                changed.append(entry)
        # One UPDATE for the batch whatever its size (opbox.bulk), as a settle writes its rows.
        update_each(EmailLogEntry, list(_SCRUBBED_FIELDS), {entry.pk: tuple(getattr(entry, name) for name in _SCRUBBED_FIELDS) for entry in changed})
        held = [entry.pk for entry in changed]
        # Only a queued row has an outbox (settling a row deletes it in the same transaction). One a sender is
        # claiming right now (its record locked: the claim locks it before the row) is in flight: skipped, not
        # waited for, or the two would wait on each other.
        queued = [entry.pk for entry in changed if entry.status == EmailStatus.QUEUED]
        outboxes = list(OutboundEmail.objects.filter(entry_id__in=queued).select_for_update(of=("self",), skip_locked=True)) if queued else []
        free = {outbox.pk for outbox in outboxes}
        in_flight = [pk for pk in queued if pk not in free]
        in_flight += [outbox.pk for outbox in outboxes if _withdraw_from_outbox(outbox, address, now)]
        mention = mention_of(address)
        for event in EmailEvent.objects.filter(entry_id__in=held, detail__icontains=address).only("pk", "detail"):
            EmailEvent.objects.filter(pk=event.pk).update(detail=mention.sub(ERASED, event.detail))
    return len(held), in_flight


def _rows_holding(workspace, address: str) -> list[str]:
    """Ids of the workspace's rows naming `address` in To, CC or BCC, or mentioning it in Subject or Error
    (a superset: scrub_rows matches exactly). On PostgreSQL, indexes answer each part (migration 0007)."""
    mentions = Q(subject__icontains=address) | Q(error__icontains=address)
    if connection.vendor == "postgresql":
        named = RawSQL(f"{RECIPIENTS_SQL} @> ARRAY[%s]::text[]", [address], output_field=BooleanField())
    else:
        named = Q(to__icontains=address) | Q(cc__icontains=address) | Q(bcc__icontains=address)
    rows = EmailLogEntry.objects.filter(Q(named) | mentions, table__workspace_id=workspace.pk)
    return list(rows.order_by("pk").values_list("pk", flat=True))


def _keep_suppression_as_hash(workspace, address: str, actor) -> int:
    """Suppress `address` with its hash only; returns 1 when a suppression held it in clear, else 0."""
    digest = address_hash(address)
    with transaction.atomic():
        existing = Suppression.objects.select_for_update().filter(workspace_id=workspace.pk, address_hash=digest).first()
        if existing is None:
            record_suppressions(workspace.pk, [(address, SuppressionReason.MANUAL, None)], actor=actor)
        # In the same transaction: the address is never committed in clear.
        Suppression.objects.filter(workspace_id=workspace.pk, address_hash=digest).update(address="")
    return 1 if existing is not None and existing.address else 0


def _scrub_workspace_events(workspace, address: str) -> int:
    """Erase `address` from the workspace's recorded events (SPEC §15: their data is the email's row), so a
    delivery not made yet carries `[erased]`; returns how many held it. One read, one UPDATE."""
    mention = mention_of(address)
    held = WorkspaceEvent.objects.filter(workspace_id=workspace.pk, data__icontains=address).values_list("pk", "data")
    changed = {pk: (json.loads(mention.sub(ERASED, json.dumps(data))),) for pk, data in held}
    update_each(WorkspaceEvent, ["data"], changed)
    return len(changed)


def erase_now(workspace, address, *, actor=None) -> tuple[Erasure, str]:
    """Erase `address` from the workspace's Email Log, events and suppressions (see the module's steps 1-3);
    returns the counts and the address's hash. Raises ValidationError for something that is not an address.
    """
    address = validated_address(address)
    result = Erasure(suppressions=_keep_suppression_as_hash(workspace, address, actor))
    ids = _rows_holding(workspace, address)
    for start in range(0, len(ids), BATCH_SIZE):
        rows, in_flight = scrub_rows(ids[start : start + BATCH_SIZE], address)
        result.rows += rows
        result.in_flight += in_flight
    result.events = EmailEvent.objects.filter(entry__table__workspace_id=workspace.pk, recipient__iexact=address).delete()[0]
    _scrub_workspace_events(workspace, address)
    digest = address_hash(address)
    AuditEvent.objects.create(
        workspace_id=workspace.pk,
        actor=actor,
        action="privacy.erased",
        target=digest,
        changes={"addressHash": digest, "rows": result.rows, "events": result.events, "suppressions": result.suppressions},
    )
    return result, digest


def sweep_by_hash(workspace_id, digest: str, since: datetime, in_flight=()) -> Erasure:
    """Step 4: erase, knowing only its hash, the address from the workspace's rows and events that arrived
    since `since`, and from the rows `in_flight` (emails that were being sent during the erasure, whose
    settling may have written a note naming it). Idempotent. Returns what it found, with the ids of
    `in_flight` emails still not settled (to sweep again later).
    """
    found = Erasure()
    rows_by_address = defaultdict(list)
    rows = EmailLogEntry.objects.filter(Q(sent_at__gte=since) | Q(pk__in=list(in_flight)), table__workspace_id=workspace_id)
    for entry in rows.only("pk", "subject", "error", *_RECIPIENT_FIELDS).iterator(chunk_size=BATCH_SIZE):
        recipients = [part for name in _RECIPIENT_FIELDS for part in _split(getattr(entry, name))]
        if address := _matching(digest, [*recipients, *ADDRESS_LIKE.findall(f"{entry.subject} {entry.error}")]):
            rows_by_address[address].append(entry.pk)
    for address, ids in rows_by_address.items():
        found.rows += scrub_rows(ids, address)[0]
    events = EmailEvent.objects.filter(entry__table__workspace_id=workspace_id, received_at__gte=since)
    for event in events.only("pk", "recipient", "detail").iterator(chunk_size=BATCH_SIZE):
        if event.recipient and _matching(digest, [event.recipient]):
            found.events += EmailEvent.objects.filter(pk=event.pk).delete()[0]
        elif address := _matching(digest, ADDRESS_LIKE.findall(event.detail)):
            EmailEvent.objects.filter(pk=event.pk).update(detail=mention_of(address).sub(ERASED, event.detail))
    found.in_flight = list(OutboundEmail.objects.filter(pk__in=list(in_flight)).order_by("pk").values_list("pk", flat=True))
    return found


def _matching(digest: str, addresses) -> str | None:
    """The first of `addresses` whose hash is `digest`, lower-cased."""
    return next((each.strip().lower() for each in addresses if address_hash(each) == digest), None)
