"""Composing and enqueueing sends: `send_emails` (1 to 1,000 at once) and its one-email case `send_email`,
which every sender calls.

Every email is written to its log (status `queued`) together with an outbox record before the provider
is ever called; the send runs as a task after the caller's transaction commits. So a rolled-back caller
sends nothing and logs nothing, and a crash mid-send leaves a `queued` row that recovery settles.
"""

from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django_tasks_db.models import DBTaskResult

from documents.attachments import attachment_problems
from integrations.exceptions import EmailProviderNotConfigured
from integrations.models import Integration
from integrations.providers import OutboundMessage, provider_for_type
from integrations.services import site_email_provider
from opbox.bulk import insert_together
from opbox.sql import CompiledQuery, instance_from_row, model_fields
from opbox.task_queue import announce, commits_with_transaction, enqueue_each, task_rows
from tables.models import SystemType, Table
from workspaces.models import WorkspaceEventType

from ..events.suppressions import address_hash, hashes_in, suppressions_among, withhold
from ..log_tables import ensure_email_log_table
from ..models import EmailLogEntry, EmailSource, EmailStatus, OutboundEmail, Suppression
from ..outgoing_events import record_email_events
from ..tasks import deliver_emails
from .delivery import CALLS_PER_TASK

MAX_RECIPIENTS = 50  # per field: a larger list is a bulk send, which this endpoint is not for
MAX_BATCH = 1000  # emails per send_emails call (POST /api/emails/batch)
SUPPRESSION_PROBE_LIMIT = 500  # addresses the sender's lookup checks in passing on SQLite (one parameter each)
MAX_SUBJECT_LENGTH = 998  # the email line limit
HEADER_BREAKERS = ("\r", "\n", "\0")  # a header value carrying one of these could inject another header


def _address_problems(name: str, addresses: list[str], required: bool) -> list[str]:
    if required and not addresses:
        return [f"{name}: at least one address is required."]
    if len(addresses) > MAX_RECIPIENTS:
        return [f"{name}: at most {MAX_RECIPIENTS} addresses."]
    problems = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            problems.append(f"{name}: {address!r} is not a valid email address.")
    return problems


def validate_message(message: OutboundMessage, source: str) -> None:
    """Raise ValidationError (a 400) naming every problem; nothing is written for an invalid email."""
    errors: dict[str, list[str]] = {}
    for name in ("to", "cc", "bcc"):
        if problems := _address_problems(name, getattr(message, name), required=name == "to"):
            errors[name] = problems
    if not message.subject.strip():
        errors["subject"] = ["Must not be empty."]
    elif len(message.subject) > MAX_SUBJECT_LENGTH:
        errors["subject"] = [f"At most {MAX_SUBJECT_LENGTH} characters (the email line limit)."]
    elif any(character in message.subject for character in HEADER_BREAKERS):
        errors["subject"] = ["Must not contain line breaks or NUL characters."]
    if not (message.html or message.text or message.template_id):
        errors["body"] = ["Give html, text or templateId."]
    if source not in EmailSource.values:
        errors["source"] = [f"Unknown source. Allowed: {', '.join(EmailSource.values)}."]
    for attachment in message.attachments:
        if problems := attachment_problems(attachment):  # a document to render: its template id, format and data
            errors.setdefault("attachments", []).extend(problems)
        if any(character in attachment.filename for character in HEADER_BREAKERS):
            errors.setdefault("attachments", []).append(
                f"{attachment.filename!r}: a filename must not contain line breaks or NUL characters."
            )
    total = sum(len(attachment.content) for attachment in message.attachments)
    if total > settings.EMAIL_MAX_ATTACHMENT_BYTES:
        errors.setdefault("attachments", []).append(
            f"Attachments total {total} bytes; at most {settings.EMAIL_MAX_ATTACHMENT_BYTES} are allowed."
        )
    if errors:
        raise ValidationError(errors)


def resolve_sender(workspace, integration_id: str | None = None) -> Integration:
    """The integration that sends for the workspace: the named one, else the site email provider."""
    if integration_id:
        integration = Integration.objects.for_workspace(workspace).filter(pk=integration_id).first()
        if integration is None:
            raise ValidationError({"integrationId": ["No such integration in this workspace."]})
        if not integration.is_email_provider:
            raise ValidationError({"integrationId": ["Not an email integration (EMAIL_PROVIDER or EMAIL_PROVIDER_ALT)."]})
    else:
        integration = site_email_provider(workspace)
        if integration is None:
            raise EmailProviderNotConfigured(
                "No site email provider is configured: create an EMAIL_PROVIDER or EMAIL_PROVIDER_ALT integration "
                "with an apiKey and setAsSiteEmailProvider: true, or pass integrationId."
            )
    if not integration.enabled:
        raise EmailProviderNotConfigured(f"The email integration {integration.name!r} is disabled: enable it to send.")
    if "apiKey" not in integration.credential_fingerprints:
        raise EmailProviderNotConfigured(f"The email integration {integration.name!r} has no apiKey: add one to send.")
    return integration


def send_email(
    workspace, message: OutboundMessage, *, source: str, integration_id: str | None = None
) -> EmailLogEntry:
    """Log and send one email of the workspace from `source`; returns its log row (`send_emails` for one).

    The row is `queued` until the provider answers: at once with the inline task backend (the row comes
    back `delivered` or `failed`), later on workers. Inside a caller's transaction the send waits for
    the commit, so a rollback sends nothing and logs nothing.
    """
    try:
        (entry,) = send_emails(workspace, [message], source=source, integration_id=integration_id)
    except InvalidEmails as error:
        raise ValidationError(error.by_index[0]) from None
    return entry


class InvalidEmails(ValidationError):
    """Some emails of a batch are invalid: `by_index` maps each one's index to its problems by field."""

    def __init__(self, by_index: dict[int, dict[str, list[str]]]):
        self.by_index = by_index
        super().__init__(
            {f"emails.{index}.{name}": problems for index, errors in by_index.items() for name, problems in errors.items()}
        )


def send_emails(workspace, messages, *, source: str, integration_id=None) -> list[EmailLogEntry]:
    """Log and send emails of the workspace from `source`, all or none; returns their rows in order.

    Every message is validated first: any invalid one raises `InvalidEmails` naming it by index, and
    nothing is written. Then every row and outbox record is written at once (opbox.bulk.insert_together),
    and delivery is enqueued as one task per provider call's worth of emails of each integration (SPEC
    §10): on the database task backend its task rows are written with them, one statement and one commit
    on PostgreSQL; elsewhere the tasks are enqueued once the rows commit. `integration_id` names the
    sending integration, or gives one per message (None: the site email provider). With the inline task
    backend the rows come back final.
    """
    messages = list(messages)
    if not 1 <= len(messages) <= MAX_BATCH:
        raise ValidationError({"emails": [f"Give 1 to {MAX_BATCH} emails."]})
    wanted = list(integration_id) if isinstance(integration_id, list | tuple) else [integration_id] * len(messages)
    if len(wanted) != len(messages):
        raise ValueError("integration_id gives one id per message, or one for all.")
    problems = {}
    for index, message in enumerate(messages):
        try:
            validate_message(message, source)
        except ValidationError as error:
            problems[index] = error.message_dict
    addresses = list(dict.fromkeys(a for message in messages for a in (*message.to, *message.cc, *message.bcc)))
    digests = {address: address_hash(address) for address in addresses}
    # PostgreSQL takes every hash as one array parameter: the sender's lookup checks them all in passing.
    hashes = list(digests.values()) if connection.vendor == "postgresql" or len(digests) <= SUPPRESSION_PROBE_LIMIT else None
    senders: dict = {}
    for index, name in enumerate(wanted):
        if index not in problems and name not in senders:
            try:
                senders[name] = _sender(workspace, name or None, hashes)
            except ValidationError as error:
                senders[name] = error
        if isinstance(senders.get(name), ValidationError):
            problems[index] = senders[name].message_dict
    if problems:
        raise InvalidEmails(problems)

    # Suppression, the one place it applies to every message: one lookup for the whole batch (none at all
    # when the sender lookup already saw that no address is suppressed).
    suppressed, erased = set(), set()
    if any(sender.maybe_suppressed for sender in senders.values()):
        suppressed, erased = suppressions_among(workspace, addresses, digests=digests)
    entries, outboxes, queued = [], [], defaultdict(list)
    for message, name in zip(messages, wanted, strict=True):
        sender = senders[name]
        entry = _entry_for(sender, message, source)
        # Suppressed recipients never reach the provider; with no To recipient left the row is failed, unsent.
        if withhold(entry, message, suppressed, erased):
            outboxes.append(OutboundEmail(entry=entry, payload=OutboundEmail.payload_for(message)))
            queued[sender.integration.pk].append(entry)
        entries.append(entry)
    deliveries = _deliveries(senders.values(), queued)
    # Rows failed at once (every To recipient suppressed) are heard of as email.failed, with this commit.
    failed_now = [(entry.pk, WorkspaceEventType.EMAIL_FAILED) for entry in entries if entry.status == EmailStatus.FAILED]
    on_database = commits_with_transaction(deliver_emails)
    # On the database task backend the task rows are written with the email rows: one commit, none lost. Alone,
    # those inserts are one statement on PostgreSQL, atomic without a transaction around it.
    tasks = task_rows(deliver_emails, deliveries) if on_database else []
    with transaction.atomic() if failed_now or not on_database else nullcontext():
        insert_together((EmailLogEntry, entries), (OutboundEmail, outboxes), (DBTaskResult, tasks))
        record_email_events(failed_now)
        if not on_database:
            transaction.on_commit(lambda: enqueue_each(deliver_emails, deliveries))
    announce(deliver_emails, tasks)
    if queued and not transaction.get_connection().in_atomic_block and not deliver_emails.get_backend().supports_defer:
        _refresh(entries)  # the sends ran inline at the commit: answer with their final state
    return entries


@dataclass
class _Route:
    integration: Integration
    table: Table
    maybe_suppressed: bool  # False when the lookup saw that none of the batch's addresses is suppressed


_TABLE_FIELDS = model_fields(Table)
_INTEGRATION_FIELDS = tuple(name for name in model_fields(Integration) if name != "credentials")  # never read here


def _route_query(by_id: bool, probe: bool) -> CompiledQuery:
    """The sending integration's Email Log table with its integration, the named one (`by_id`) or the site
    email provider; with `probe`, whether any of the hashes is suppressed. Parameters: the workspace id, the
    integration id (`by_id`), the hashes as one array (`probe`, PostgreSQL)."""

    def build(workspace_id, *rest):
        rest = list(rest)
        tables = Table.objects.filter(workspace_id=workspace_id, system_type=SystemType.EMAIL_LOG)
        tables = tables.filter(integration_id=rest.pop(0)) if by_id else tables.filter(integration__is_site_email_provider=True)
        suppressed = []
        if probe:
            hashes = hashes_in(rest.pop(0))  # PostgreSQL: one array parameter
            tables = tables.annotate(suppressed=Exists(Suppression.objects.filter(workspace_id=OuterRef("workspace_id"), address_hash__in=hashes)))
            suppressed = ["suppressed"]
        return tables.values_list(*_TABLE_FIELDS, *(f"integration__{name}" for name in _INTEGRATION_FIELDS), *suppressed)[:1]

    return CompiledQuery(build, parameters=1 + by_id + probe)


# The lookup of every send, compiled once per connection (opbox.sql): building it cost more than running it.
_ROUTE_QUERIES = {(by_id, probe): _route_query(by_id, probe) for by_id in (False, True) for probe in (False, True)}


def _sender(workspace, integration_id: str | None, hashes: list[str] | None) -> _Route:
    """The sending integration (the named one, else the site email provider) with its Email Log table: one
    query when both are usable and exist, which also says whether any of `hashes` is suppressed."""
    table, suppressed = _route(workspace, integration_id, hashes)
    integration = table.integration if table is not None else None
    usable = integration is not None and integration.enabled and integration.is_email_provider
    if not usable or "apiKey" not in integration.credential_fingerprints:
        # No usable integration (resolve_sender says why), or its table is still to be made.
        integration = resolve_sender(workspace, integration_id)
        return _Route(integration, ensure_email_log_table(integration), maybe_suppressed=True)
    return _Route(integration, table, maybe_suppressed=hashes is None or suppressed)


def _route(workspace, integration_id: str | None, hashes: list[str] | None) -> tuple[Table | None, bool]:
    """(the table with its integration attached, whether a hash is suppressed) of `_route_query`, or (None, True)."""
    if hashes is not None and connection.vendor != "postgresql":  # a list of parameters: not compiled
        tables = Table.objects.select_related("integration").defer("integration__credentials")
        tables = tables.filter(workspace=workspace, system_type=SystemType.EMAIL_LOG)
        tables = tables.filter(integration_id=integration_id) if integration_id else tables.filter(integration__is_site_email_provider=True)
        tables = tables.annotate(suppressed=Exists(Suppression.objects.filter(workspace=workspace, address_hash__in=hashes_in(hashes))))
        table = next(iter(tables), None)
        return table, table is None or table.suppressed
    parameters = [workspace.pk, *([integration_id] if integration_id else []), *([hashes] if hashes is not None else [])]
    rows = _ROUTE_QUERIES[(bool(integration_id), hashes is not None)].rows(*parameters)
    if not rows:
        return None, True
    values = iter(rows[0])
    table = instance_from_row(Table, _TABLE_FIELDS, [next(values) for _ in _TABLE_FIELDS])
    table.integration = instance_from_row(Integration, _INTEGRATION_FIELDS, [next(values) for _ in _INTEGRATION_FIELDS])
    return table, next(values, False)


def _entry_for(sender: _Route, message: OutboundMessage, source: str) -> EmailLogEntry:
    integration = sender.integration
    message.from_email = integration.config.get("fromEmail", "")
    message.from_name = integration.config.get("fromName", "")
    return EmailLogEntry(
        table=sender.table,
        integration=integration,
        to=", ".join(message.to),
        cc=", ".join(message.cc),
        bcc=", ".join(message.bcc),
        from_address=message.from_email,
        subject=message.subject,
        provider=provider_for_type(integration.type).slug,
        template_id=message.template_id,
        source=source,
        attachment_count=len(message.attachments),
    )


def _deliveries(senders, queued: dict[str, list[EmailLogEntry]]) -> list[tuple]:
    """The delivery tasks' arguments, one task per provider call's worth: a batch of plain emails where the
    client batches, else up to CALLS_PER_TASK emails sent one by one (attachments always go singly)."""
    by_id = {sender.integration.pk: sender.integration for sender in senders}
    tasks = []
    for integration_id, entries in queued.items():
        size = provider_for_type(by_id[integration_id].type).client_class.batch_size
        plain = [entry.pk for entry in entries if size > 1 and not entry.attachment_count]
        single = [entry.pk for entry in entries if size == 1 or entry.attachment_count]
        chunks = [plain[i : i + size] for i in range(0, len(plain), size)]
        chunks += [single[i : i + CALLS_PER_TASK] for i in range(0, len(single), CALLS_PER_TASK)]
        tasks += [(integration_id, chunk) for chunk in chunks]
    return tasks


def _refresh(entries: list[EmailLogEntry]) -> None:
    # All a send may change: the claim withholds recipients suppressed meanwhile, the settle writes the outcome.
    fields = ("to", "cc", "bcc", "subject", "status", "message_id", "error", "attempts", "failure")
    final = {row["pk"]: row for row in EmailLogEntry.objects.filter(pk__in=[e.pk for e in entries]).values("pk", *fields)}
    for entry in entries:
        for field in fields:
            setattr(entry, field, final[entry.pk][field])


def send_test_email(integration: Integration, to: str) -> EmailLogEntry:
    """A short test email through `integration`, sent and logged like any other (see send_email)."""
    message = OutboundMessage(
        to=[to.strip()],
        subject=f"Opbox test email via {integration.name}",
        text=(
            f"This is a test email from Opbox, sent through the integration {integration.name!r} "
            "to check that it can deliver. It is logged in that integration's Email Log table."
        ),
    )
    return send_email(integration.workspace, message, source=EmailSource.WORKFLOW_EMAIL, integration_id=integration.pk)
