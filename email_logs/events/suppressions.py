"""Suppressions: the addresses a workspace no longer sends to (SPEC §9).

An address is matched by a keyed hash of its stripped, lower-cased form, never by its text, so
comparison is case-insensitive and an address whose text was later erased (SPEC §12) still receives
nothing. Every change writes a workspace AuditEvent whose target is the suppression's id, not the
address: the trail must not keep an address that is erased later.
"""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.utils.crypto import salted_hmac

from integrations.providers import OutboundMessage
from opbox.bulk import update_each
from workspaces.models import AuditEvent, WorkspaceEventType

from ..models import MAX_ERROR_LENGTH, EmailLogEntry, EmailStatus, OutboundEmail, SendFailure, Suppression, SuppressionReason
from ..outgoing_events import record_email_events

_HASH_SALT = "opbox.email_logs.suppression-address"
MAX_ADDRESS_LENGTH = 320
ERASED = "[erased]"  # what stands where an erased address was (SPEC §12); its suppression keeps the hash alone
LOOKUP_CHUNK = 10_000  # hashes per query where each is a parameter of its own (SQLite; PostgreSQL takes one array)


def normalise_address(address: str) -> str:
    return address.strip().lower()


def address_hash(address: str) -> str:
    """The keyed hash (HMAC-SHA256 under SECRET_KEY) that identifies a suppressed address."""
    return salted_hmac(_HASH_SALT, normalise_address(address), algorithm="sha256").hexdigest()


def _workspace_id(workspace):
    return getattr(workspace, "pk", workspace)


def _audit(workspace_id, action: str, suppressions, actor=None) -> None:
    AuditEvent.objects.bulk_create(
        AuditEvent(
            workspace_id=workspace_id,
            actor=actor,
            action=action,
            target=suppression.pk,
            changes={"reason": suppression.reason, "emailId": suppression.entry_id},
        )
        for suppression in suppressions
    )


# Selectors ---------------------------------------------------------------------------------------


def suppressions_for(workspace, search: str = ""):
    """The workspace's suppressions, newest first; `search` matches part of the address (any case)."""
    # The email's table rides along in the same query, for a link to the email that caused it.
    suppressions = Suppression.objects.filter(workspace_id=_workspace_id(workspace)).annotate(email_table_id=F("entry__table_id"))
    search = normalise_address(search)
    return suppressions.filter(address__contains=search) if search else suppressions


def suppression_for(workspace, address: str) -> Suppression:
    """The workspace's suppression of `address` (any case); raises Suppression.DoesNotExist."""
    return Suppression.objects.get(workspace_id=_workspace_id(workspace), address_hash=address_hash(address))


def suppressed_among(workspace, addresses) -> set[str]:
    """The addresses of `addresses` (as given) that the workspace suppresses."""
    return suppressions_among(workspace, addresses)[0]


def suppressions_among(workspace, addresses, *, digests: dict | None = None) -> tuple[set[str], set[str]]:
    """(suppressed, erased): the addresses of `addresses` (as given) that the workspace suppresses, and those
    of them that were erased (their suppression holds the hash alone). One query on PostgreSQL for any number.
    `digests` may give the addresses' hashes already computed.
    """
    by_hash: dict[str, list[str]] = {}
    for address in addresses:
        by_hash.setdefault(digests[address] if digests else address_hash(address), []).append(address)
    found: dict[str, str] = {}
    hashes = list(by_hash)
    size = len(hashes) if connection.vendor == "postgresql" else LOOKUP_CHUNK
    for start in range(0, len(hashes), size or 1):
        chunk = Suppression.objects.filter(workspace_id=_workspace_id(workspace), address_hash__in=hashes_in(hashes[start : start + size]))
        found.update(chunk.values_list("address_hash", "address"))
    suppressed = {address for digest in found for address in by_hash[digest]}
    erased = {address for digest, kept in found.items() if not kept for address in by_hash[digest]}
    return suppressed, erased


def hashes_in(hashes: list[str]):
    """The right side of an `address_hash__in` filter: on PostgreSQL one array parameter, however many."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::varchar[])", [hashes])
    return hashes


# Services ----------------------------------------------------------------------------------------


def record_suppressions(workspace_id, items, *, actor=None) -> int:
    """Suppress each (address, reason, entry_id or None) of `items` in the workspace; returns how many were new.

    Idempotent and safe under concurrency: an address already suppressed keeps its first reason (the
    unique (workspace, address_hash) constraint ignores the repeat). A constant number of queries.
    """
    workspace_id = _workspace_id(workspace_id)
    candidates: dict[str, Suppression] = {}
    for address, reason, entry_id in items:
        digest = address_hash(address)
        if digest not in candidates:
            candidates[digest] = Suppression(
                workspace_id=workspace_id,
                address=normalise_address(address),
                address_hash=digest,
                reason=reason,
                entry_id=entry_id,
            )
    if not candidates:
        return 0
    with transaction.atomic():
        Suppression.objects.bulk_create(candidates.values(), ignore_conflicts=True)
        # Ids are assigned before the insert, so the rows holding our ids are exactly the ones we inserted.
        ids = [suppression.pk for suppression in candidates.values()]
        new = list(Suppression.objects.filter(pk__in=ids).only("pk", "reason", "entry_id"))
        _audit(workspace_id, "suppression.added", new, actor)
    return len(new)


def validated_address(address) -> str:
    """The address lower-cased, or a ValidationError (a 400) naming what is wrong with it."""
    if not isinstance(address, str) or not address.strip():
        raise ValidationError({"address": ["Give an email address."]})
    address = normalise_address(address)
    if len(address) > MAX_ADDRESS_LENGTH:
        raise ValidationError({"address": [f"At most {MAX_ADDRESS_LENGTH} characters."]})
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError({"address": [f"{address!r} is not a valid email address."]}) from None
    return address


def add_suppression(workspace, address: str, *, actor=None) -> tuple[Suppression, bool]:
    """Suppress `address` by hand (reason `manual`); returns (the suppression, whether it is new).

    An address already suppressed is left as it is (its first reason and email stay) and not audited again.
    """
    address = validated_address(address)
    created = record_suppressions(workspace, [(address, SuppressionReason.MANUAL, None)], actor=actor) == 1
    return suppression_for(workspace, address), created


def remove_suppression(workspace, address: str, *, actor=None) -> Suppression:
    """Send to `address` again; raises Suppression.DoesNotExist when it is not suppressed."""
    with transaction.atomic():
        suppression = suppression_for(workspace, address)
        _audit(_workspace_id(workspace), "suppression.removed", [suppression], actor)
        suppression.delete()
    return suppression


# Send time ---------------------------------------------------------------------------------------


def withhold(entry: EmailLogEntry, message: OutboundMessage, suppressed: set[str], erased=frozenset()) -> bool:
    """Remove the `suppressed` addresses from `message` and from its row (not saved: a batch writes its rows
    in bulk); returns whether it can still be sent. No query: `suppressed` and `erased` (those of them that
    were erased) come from `suppressions_among`.

    The row's To/CC/BCC then list who it goes to, and its Error names who was withheld. With no To
    recipient left (CC and BCC alone are not an email), the row is `failed` and nothing is sent. An erased
    address is never written: `[erased]` stands in its place, and where every recipient was erased the
    Subject goes too, as erasure leaves such a row.
    """
    everyone = [*message.to, *message.cc, *message.bcc]
    if not suppressed.intersection(everyone):
        return True

    def named(address):
        return ERASED if address in erased else address

    withheld = ", ".join(dict.fromkeys(named(a) for a in everyone if a in suppressed))
    remaining = {name: [a for a in getattr(message, name) if a not in suppressed] for name in ("to", "cc", "bcc")}
    if not remaining["to"]:
        entry.status, entry.failure = EmailStatus.FAILED, SendFailure.SUPPRESSED
        everyone_left_out = not (remaining["cc"] or remaining["bcc"])
        why = "All recipients are suppressed" if everyone_left_out else "Every To recipient is suppressed, so nothing was sent"
        note = f"{why}: {withheld}"
        for name in ("to", "cc", "bcc"):  # who it was for, though nothing was sent
            setattr(entry, name, ", ".join(named(a) for a in getattr(message, name)))
        if all(a in erased for a in everyone):
            entry.subject = ERASED
        sendable = False
    else:
        for name, addresses in remaining.items():
            setattr(message, name, addresses)
            setattr(entry, name, ", ".join(addresses))
        note = f"Not sent to suppressed recipients: {withheld}"
        sendable = True
    # After what the row already says (recipients withheld earlier, at intake).
    entry.error = "; ".join(part for part in (entry.error, note) if part)[:MAX_ERROR_LENGTH]
    return sendable


def withhold_from_outboxes(outboxes: list[OutboundEmail], workspace_id) -> set[str]:
    """Apply the workspace's suppressions to the emails of `outboxes` never attempted (their records locked
    by the caller, a sender claiming them), as `withhold` does at intake; returns the ids of those left with
    no To recipient, failed unsent (their outbox records deleted). The others' payloads and rows lose the
    suppressed recipients.

    An email already attempted keeps its body: the provider may have it, and a retry must be the same send.
    One query when nobody is suppressed; a constant few more otherwise.
    """
    fresh = [outbox for outbox in outboxes if outbox.attempts == 0]
    recipients = {address for outbox in fresh for address in _recipients(outbox.payload)}
    suppressed, erased = suppressions_among(workspace_id, recipients) if recipients else (set(), set())
    affected = [outbox for outbox in fresh if suppressed.intersection(_recipients(outbox.payload))]
    if not affected:
        return set()
    # The rows as they are now, locked in primary-key order (as every writer of rows locks them).
    rows = EmailLogEntry.objects.select_for_update(no_key=True).filter(pk__in=[outbox.pk for outbox in affected])
    entries = {entry.pk: entry for entry in rows.order_by("pk").only("pk", *_WITHHELD_FIELDS)}
    unsent, payloads = set(), {}
    for outbox in affected:
        entry, payload = entries[outbox.pk], outbox.payload
        names = ("to", "cc", "bcc")
        message = OutboundMessage(subject="", **{name: list(payload.get(name, [])) for name in names})
        if withhold(entry, message, suppressed, erased):
            outbox.payload = payloads[outbox.pk] = payload | {name: getattr(message, name) for name in names}
        else:
            unsent.add(outbox.pk)
    update_each(EmailLogEntry, list(_WITHHELD_FIELDS), {pk: tuple(getattr(e, name) for name in _WITHHELD_FIELDS) for pk, e in entries.items()})
    update_each(OutboundEmail, ["payload"], {pk: (payload,) for pk, payload in payloads.items()})
    OutboundEmail.objects.filter(pk__in=unsent).delete()
    record_email_events([(pk, WorkspaceEventType.EMAIL_FAILED) for pk in sorted(unsent)])  # withheld whole: failed
    return unsent


_WITHHELD_FIELDS = ("to", "cc", "bcc", "subject", "error", "status", "failure")


def _recipients(payload: dict) -> list[str]:
    return [*payload.get("to", []), *payload.get("cc", []), *payload.get("bcc", [])]
