"""Delivery on the worker (SPEC §5, §10): queued emails of one integration go to its provider one call at a
time (up to the client's `batch_size` emails per call), each call at the integration's shared pace
(integrations/pacing.py), and their results are written in bulk.

The promises of §5 rest on three rules:
- an email's attempt is recorded, with its lease, by an UPDATE committed right before the call that
  carries it (a batch's claim is that UPDATE): after a crash, `attempts` says whether the provider may
  have it;
- the emails of one call share a `batch_id` fixed by that claim, so a retry, or a resend after a crash,
  is that same batch under the same Idempotency-Key, which the provider deduplicates. Only emails never
  attempted are grouped: one already tried alone is always retried alone, under its own key;
- results are written in the transaction that deletes the outbox records.

A retryable failure (429, 5xx, timeout) frees the worker: the call is scheduled again through `later`
(a task with `run_after`). Without `later` (the inline task backend, the in-flight sweep) the sender
waits instead, briefly and a bounded number of times, as sends always did.
"""

import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tasks_db.utils import exclusive_transaction

from documents.attachments import render_attachments
from integrations import pacing
from integrations.crypto import EncryptionError
from integrations.models import Integration
from integrations.providers import ProviderError, ProviderRateLimited, client_for, provider_for_type
from opbox.bulk import update_each
from opbox.transactions import run_transaction

from . import events
from .models import EmailLogEntry, EmailStatus, OutboundEmail, SendFailure
from .suppressions import withhold_from_outboxes

logger = logging.getLogger(__name__)

CALLS_PER_TASK = 25  # a task hands its remaining emails on after this many calls or TASK_SECONDS (fairness)
TASK_SECONDS = 5.0
PARALLEL_SINGLES = 8  # one-email calls of an unpaced integration a worker makes at once
MAX_WAIT_IN_WORKER = 0.25  # a shorter wait for a turn is slept; a longer one frees the worker
FLUSH_RESULTS, FLUSH_SECONDS = 100, 0.5  # results of single sends are written in bulk at least this often
INTERNAL_ERROR = "Internal error while sending; see the server log."
# The order of a call's emails: the order they were logged in (a batch request's), the same on every retry.
CALL_ORDER = ("entry__created_at", "pk")

# later(when, integration_id, **task_arguments): run the delivery task again at `when` with these arguments.
Later = Callable[..., None]


def lease_length() -> timedelta:
    """Long enough for every attempt of one email, with its waits, and a margin."""
    attempts = settings.EMAIL_SEND_MAX_ATTEMPTS
    return timedelta(seconds=attempts * (settings.EMAIL_PROVIDER_TIMEOUT + settings.EMAIL_SEND_MAX_BACKOFF) + 60)


def retry_delay(error: ProviderError, attempts: int) -> float:
    """Seconds before the next attempt: exponential with jitter, at least the provider's Retry-After; capped
    at EMAIL_SEND_MAX_BACKOFF (a longer Retry-After is kept by pausing the integration instead).
    """
    exponential = 0.5 * 2 ** max(attempts - 1, 0)
    delay = exponential / 2 + random.uniform(0, exponential / 2)  # noqa: S311 (jitter, not a secret)
    if error.retry_after is not None:
        delay = max(delay, error.retry_after)
    return max(0.0, min(delay, settings.EMAIL_SEND_MAX_BACKOFF))


# Claims ------------------------------------------------------------------------------------------


def _free(now: datetime, hold: datetime | None = None) -> Q:
    # A lease that ran out, or the very hold a scheduled retry was given (whatever this node's clock says).
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)
    return free | Q(lease_expires_at=hold) if hold else free


def _take(rows: list[OutboundEmail], now: datetime, *, attempt: bool = True, batch_id: str = "") -> list[OutboundEmail]:
    """Lease `rows` (locked by the caller's transaction), recording the attempt about to be made."""
    lease = now + lease_length()
    changes = {"lease_expires_at": lease}
    if attempt:
        changes.update(attempts=F("attempts") + 1, last_attempt_at=now)
    if batch_id:
        changes["batch_id"] = batch_id
    OutboundEmail.objects.filter(pk__in=[row.pk for row in rows]).update(**changes)
    for row in rows:
        row.lease_expires_at, row.batch_id = lease, batch_id or row.batch_id
        if attempt:
            row.attempts, row.last_attempt_at = row.attempts + 1, now
    return rows


def claim_emails(
    entry_ids, *, limit: int, group: bool, attempt: bool = True, hold=None, workspace_id=None, refused: list | None = None
) -> list[OutboundEmail]:
    """Lease up to `limit` of the emails `entry_ids` that are queued, free (no other sender's lease) and in no
    batch. With `group`, only emails never attempted and without attachments, and several taken together
    become one batch.

    With `workspace_id`, the workspace's suppressions are applied to the emails never attempted, as intake
    applies them (a suppression may have come while they waited: a backlog, the pace, a pause); those left
    with no To recipient are failed unsent, and their ids added to `refused`.
    """
    now = timezone.now()
    rows = OutboundEmail.objects.filter(_free(now, hold), pk__in=list(entry_ids), batch_id="")
    if group:
        rows = rows.filter(attempts=0, entry__attachment_count=0)
    # A record locked by another transaction is waited for, not skipped: the lease says who sends an email, and
    # a lock may be erasure's, scrubbing it (a skipped email would wait for the in-flight sweep). Claims lock in
    # one order, and nothing that holds a record waits for a claim, so the wait is short. (SQLite's exclusive
    # transaction makes the read and the lease one step.)
    with exclusive_transaction():
        taken = list(rows.select_related("entry").select_for_update(of=("self",)).order_by(*CALL_ORDER)[:limit])
        if taken and workspace_id is not None and (unsent := withhold_from_outboxes(taken, workspace_id)):
            taken = [row for row in taken if row.pk not in unsent]
            if refused is not None:
                refused += sorted(unsent)
        if not taken:
            return []
        batch_id = uuid.uuid4().hex if group and len(taken) > 1 else ""
        return _take(taken, now, attempt=attempt, batch_id=batch_id)


def claim_batch(batch_id: str, *, attempt: bool = True, hold=None) -> list[OutboundEmail]:
    """Lease every email of an existing batch, or none when any is held elsewhere (it is sent whole or not)."""
    now = timezone.now()
    with exclusive_transaction():
        members = list(
            OutboundEmail.objects.filter(batch_id=batch_id).select_related("entry").select_for_update(of=("self",)).order_by(*CALL_ORDER)
        )
        held = [m for m in members if m.lease_expires_at and m.lease_expires_at > now and m.lease_expires_at != hold]
        if not members or held:
            return []
        return _take(members, now, attempt=attempt)


# Results -----------------------------------------------------------------------------------------


def settle_all(results) -> list[EmailLogEntry]:
    """Write each (outbox, status, message id, error, failure) as its row's final state and drop the outbox records,
    in one transaction of four statements whatever their number (run again if it loses a deadlock).

    The rows are read under their locks, not from the sender's copy taken at the claim: a provider event
    applied meanwhile stays. A row an event already failed stays failed, the provider's answer joining
    its Error; the row's stored bounces and drops are applied again over the settled state, so partial
    bounces keep their note and the last recipient to fail still fails the row.
    """
    results = list(results)
    if results:
        run_transaction(lambda: _settle(results))
    return [outbox.entry for outbox, *_ in results]


def _settle(results) -> None:
    fields = ["status", "message_id", "error", "attempts", "failure"]
    with transaction.atomic():
        rows = events.lock_rows([outbox.pk for outbox, *_ in results])
        failures = events.stored_failures(rows)
        changes = {}
        for outbox, status, message_id, error, failure in results:
            row, entry = rows.get(outbox.pk), outbox.entry
            if row is None:  # deleted meanwhile (its workspace, or retention): nothing to write
                continue
            # What the row says already (a note written at send time, an event's failure) stays beside the answer.
            error = "; ".join(part for part in (error if error not in row["error"] else "", row["error"]) if part)
            if row["status"] == EmailStatus.FAILED:  # an event failed it first: failed stays failed
                status = EmailStatus.FAILED
            elif status != EmailStatus.FAILED and failures[outbox.pk]:
                status, error = events.failure_outcome(row | {"status": status, "error": error}, failures[outbox.pk])
            entry.status, entry.message_id, entry.error, entry.attempts = status, message_id, error[:2000], outbox.attempts
            entry.failure = failure
            changes[entry.pk] = tuple(getattr(entry, name) for name in fields)
        # One statement for every row (opbox.bulk): bulk_update's CASE per field and row would cost more to
        # build than the provider call for a batch of 100.
        update_each(EmailLogEntry, fields, changes)
        OutboundEmail.objects.filter(pk__in=[outbox.pk for outbox, *_ in results]).delete()


def settle(outbox: OutboundEmail, status: str, *, message_id: str = "", error: str = "", failure: str = "") -> EmailLogEntry:
    """Write one email's final status and drop its outbox record, in one transaction."""
    return settle_all([(outbox, status, message_id, error, failure)])[0]


def fail_unsent(error: str, failure: SendFailure, entry_ids=(), batch_id: str = "") -> dict:
    """Settle `failed` for the reason `failure`, without any provider call, the free emails of `entry_ids`
    (in a batch or not) or of the batch `batch_id`."""
    if batch_id:
        rows = claim_batch(batch_id, attempt=False)
    else:
        now = timezone.now()
        with exclusive_transaction():
            free = OutboundEmail.objects.filter(_free(now), pk__in=list(entry_ids)).select_related("entry")
            rows = _take(list(free.select_for_update(of=("self",)).order_by(*CALL_ORDER)), now, attempt=False)
    settle_all((row, EmailStatus.FAILED, "", error, failure) for row in rows)
    return {"failed": len(rows)} if rows else {}


# Sending -----------------------------------------------------------------------------------------


def deliver_emails(
    integration_id, entry_ids=(), *, batch_id="", slot=None, hold=None, waits=0, later: Later | None = None
) -> dict:
    """Send queued emails of one integration: those of `entry_ids` (an intake chunk), or the batch `batch_id`
    (a retry). Returns counts by outcome; empty when another sender had them all.

    `slot` is a turn reserved earlier, `hold` the lease a scheduled retry was given (ISO timestamps), and
    `waits` how many times these emails have found their integration paused.
    """
    integration = Integration.objects.filter(pk=integration_id).first() if integration_id else None
    if integration is None or not integration.enabled:
        return fail_unsent("The email integration was deleted or disabled before sending.", SendFailure.UNAVAILABLE, entry_ids, batch_id)
    try:
        client = client_for(integration.type, integration.credentials.get("apiKey", ""))
    except EncryptionError as error:
        return fail_unsent(str(error), SendFailure.CREDENTIALS, entry_ids, batch_id)
    sender = _Sender(integration, client, later)
    return sender.run(list(entry_ids), batch_id, _moment(slot), _moment(hold), waits)


def deliver_queued_email(entry_id: str, *, later: Later | None = None) -> str:
    """Send one queued email (with its batch, if it has one); returns its status, or "skipped" when it is
    already final or another sender holds it."""
    outbox = OutboundEmail.objects.filter(pk=entry_id).values_list("batch_id", "entry__integration_id").first()
    if outbox is None:
        return "skipped"
    batch_id, integration_id = outbox
    counts = deliver_emails(integration_id, [] if batch_id else [entry_id], batch_id=batch_id, later=later)
    if not counts:
        return "skipped"
    return EmailLogEntry.objects.filter(pk=entry_id).values_list("status", flat=True).get()


def _moment(value) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class _Sender:
    """One run of delivery for one integration: turns, claims, calls, and the results waiting to be written."""

    def __init__(self, integration: Integration, client, later: Later | None):
        self.integration, self.client, self.later = integration, client, later
        self.rate = provider_for_type(integration.type).requests_per_second
        self.counts: Counter = Counter()
        self.pending: list[tuple] = []
        self.pending_since = 0.0
        self.leased: list[OutboundEmail] = []  # emails that go singly, held by this run, not yet attempted
        self.pool, self.clients = None, threading.local()  # for one-email calls made a few at once

    def run(self, remaining: list[str], batch_id: str, slot: datetime | None, hold: datetime | None, waits: int) -> dict:
        began, calls, waited = time.monotonic(), 0, 0.0
        try:
            while remaining or batch_id:
                if self.later is not None and (calls >= CALLS_PER_TASK or time.monotonic() - began > TASK_SECONDS):
                    self._hand_on(timezone.now(), entry_ids=remaining)  # behind other integrations' work
                    break
                if self.rate and slot is None and not self._has_work(remaining, batch_id, hold):
                    break  # its emails were settled elsewhere: no turn is taken, or reserved, for nothing
                # An unpaced integration only checks for a pause, once per run.
                when = pacing.take_turn(self.integration.pk, self.rate, reserved=slot is not None) if self.rate or not calls else None
                if when is not None:
                    wait = max((when - timezone.now()).total_seconds(), 0.0)
                    if self.later is not None:
                        if wait > MAX_WAIT_IN_WORKER:
                            if self.rate is None:  # a pause: each time it finds one again, it comes back later
                                when += timedelta(seconds=random.uniform(0, min(2.0**waits, 60.0)))  # noqa: S311
                            self._hand_on(when, entry_ids=remaining, batch_id=batch_id, slot=when.isoformat(), hold=hold, waits=waits + 1)
                            break
                        time.sleep(wait)
                        slot = when
                        continue
                    # Inline, the sender waits for its turn, but in all no longer than one backoff; past
                    # that it calls anyway and the provider's own answer (a 429) rules.
                    if waited < settings.EMAIL_SEND_MAX_BACKOFF:
                        wait = min(wait, settings.EMAIL_SEND_MAX_BACKOFF - waited)
                        time.sleep(wait)
                        waited, slot = waited + wait, when
                        continue
                slot = None
                now_calls = self._claim(remaining, batch_id, hold)
                batch_id = ""  # a batch is one call
                if not now_calls:
                    break
                taken = {outbox.pk for call in now_calls for outbox in call}
                remaining = [entry_id for entry_id in remaining if entry_id not in taken]
                calls += len(now_calls)
                if len(now_calls) == 1:
                    self._attempt(now_calls[0])
                else:
                    self._attempt_together(now_calls)
        finally:
            # Also on the way out of an error: what the provider already accepted is written down.
            self._release()
            self._flush()
            if self.pool is not None:
                self.pool.shutdown()
        return dict(self.counts)

    def _has_work(self, remaining: list[str], batch_id: str, hold) -> bool:
        if self.leased:
            return True
        free = OutboundEmail.objects.filter(_free(timezone.now(), hold))
        return (free.filter(batch_id=batch_id) if batch_id else free.filter(pk__in=remaining, batch_id="")).exists()

    def _claim(self, remaining: list[str], batch_id: str, hold) -> list[list[OutboundEmail]]:
        """The provider calls to make now: one batch, or one or more emails that go singly."""
        if batch_id:
            return [call] if (call := claim_batch(batch_id, hold=hold)) else []
        size, refused = self.client.batch_size, []
        checked = {"workspace_id": self.integration.workspace_id, "refused": refused}  # suppressions apply at the claim
        try:
            if size > 1 and not self.leased and (call := claim_emails(remaining, limit=size, group=True, hold=hold, **checked)):
                return [call]
            if not self.leased:
                # The emails that go singly are leased together; each one's attempt is recorded before its call.
                self.leased = claim_emails(remaining, limit=len(remaining), group=False, attempt=False, hold=hold, **checked)
        finally:
            if refused:
                self.counts[EmailStatus.FAILED.value] += len(refused)
        # Unpaced, on a worker, a few go at once: one write records their attempts, then the calls overlap.
        together = PARALLEL_SINGLES if self.later is not None and self.rate is None else 1
        while True:
            singles, self.leased = self.leased[:together], self.leased[together:]
            singles = self._with_documents(singles)  # an email whose document failed is settled, unsent
            if singles or not self.leased:
                break
        if singles:
            self._record_attempt(singles)
        return [[outbox] for outbox in singles]

    def _with_documents(self, outboxes: list[OutboundEmail]) -> list[OutboundEmail]:
        """Render the document attachments not rendered yet, before the attempt is recorded and the provider called
        (documents.attachments): once, whatever retries and resends follow. Those whose render failed are failed."""
        ready = []
        for outbox in outboxes:
            if not outbox.entry.attachment_count:
                ready.append(outbox)
                continue

            def save(payload, outbox=outbox):
                OutboundEmail.objects.filter(pk=outbox.pk).update(payload=payload)
                outbox.payload = payload

            outcome = render_attachments(self.integration.workspace_id, outbox.pk, outbox.entry.source, outbox.payload, save)
            if not outcome.failure:
                ready.append(outbox)
                continue
            settle(outbox, EmailStatus.FAILED, error=outcome.failure, failure=SendFailure.DOCUMENT)
            self.counts[EmailStatus.FAILED.value] += 1
        return ready

    def _hand_on(self, when: datetime, hold: datetime | None = None, **task_arguments) -> None:
        """Run the rest of this delivery at `when`. Emails held for a scheduled retry stay held until then
        (their lease moves to cover `when`), so the in-flight sweep never takes them for crashed meanwhile."""
        self._release()
        if hold is None:
            self.later(when, self.integration.pk, **task_arguments)
            return
        held = OutboundEmail.objects.filter(lease_expires_at=hold)
        held = held.filter(batch_id=task_arguments["batch_id"]) if task_arguments.get("batch_id") else held.filter(pk__in=task_arguments["entry_ids"])
        new_hold = when + lease_length()
        with transaction.atomic():  # on the database task backend the task row commits with the new hold
            held.update(lease_expires_at=new_hold)
            self.later(when, self.integration.pk, hold=new_hold.isoformat(), **task_arguments)

    def _release(self) -> None:
        """Give back the singly-sent emails this run leased but did not attempt, for the run it hands on to."""
        if self.leased:
            OutboundEmail.objects.filter(pk__in=[outbox.pk for outbox in self.leased]).update(lease_expires_at=None)
            self.leased = []

    def _message(self, outbox: OutboundEmail):
        message = outbox.message
        if not message.from_email:  # queued before the sender was stored with the message
            message.from_email = self.integration.config.get("fromEmail", "")
            message.from_name = self.integration.config.get("fromName", "")
        return message

    def _send(self, call: list[OutboundEmail], client=None) -> list[tuple[str, str, str, str]] | Exception:
        """(status, message id, error, failure) for each email of the call, in order; or the error the call raised."""
        client, key = client or self.client, call[0].idempotency_key
        try:
            if call[0].batch_id:
                results = client.send_batch([self._message(outbox) for outbox in call], idempotency_key=key)
                return [
                    (EmailStatus.DELIVERED, result.message_id, "", "")
                    if result.message_id
                    else (EmailStatus.FAILED, "", result.error, SendFailure.PROVIDER)
                    for result in results
                ]
            return [(EmailStatus.DELIVERED, client.send(self._message(call[0]), idempotency_key=key), "", "")]
        except Exception as error:  # judged by _attempt, in the sender's own thread
            return error

    def _attempt_together(self, calls: list[list[OutboundEmail]]) -> None:
        """Make several one-email calls at once (their attempts are recorded); then judge each."""
        if self.pool is None:
            self.pool = ThreadPoolExecutor(PARALLEL_SINGLES, thread_name_prefix="email-send")
        outcomes = list(self.pool.map(lambda call: self._send(call, self._thread_client()), calls))
        for call, outcome in zip(calls, outcomes, strict=True):
            self._attempt(call, outcome)

    def _thread_client(self):
        # A client per sending thread: each uses its thread's keep-alive session (providers.registry).
        client = getattr(self.clients, "client", None)
        if client is None:
            client = self.clients.client = client_for(self.integration.type, self.integration.credentials.get("apiKey", ""))
        return client

    def _attempt(self, call: list[OutboundEmail], outcome=None) -> None:
        while True:
            outcome = self._send(call) if outcome is None else outcome
            if isinstance(outcome, ProviderError):
                error, outcome = outcome, None
                attempts = max(outbox.attempts for outbox in call)
                delay = retry_delay(error, attempts)
                if isinstance(error, ProviderRateLimited):  # every worker holds off, not just this call
                    pacing.pause(self.integration.pk, error.retry_after if error.retry_after is not None else delay)
                if error.retryable and attempts < max(1, settings.EMAIL_SEND_MAX_ATTEMPTS):
                    if self.later is not None:
                        return self._retry_later(call, delay)
                    time.sleep(delay)
                    self._record_attempt(call)
                    continue
                # Ids and the error's class only: the provider's text may echo recipients, and log files are
                # out of an erasure's reach (the text is on the rows, where erasure finds it).
                logger.info(
                    "Email(s) %s failed after %d attempt(s): %s (HTTP %s)",
                    ", ".join(outbox.pk for outbox in call), attempts, type(error).__name__, error.status_code or "-",
                )  # fmt: skip
                outcomes = [(EmailStatus.FAILED, "", str(error), SendFailure.PROVIDER)] * len(call)
            elif isinstance(outcome, Exception):
                # A bug of ours, not the provider's answer: record it (the rows must not stay queued forever).
                logger.error("Unexpected error while sending email(s) %s", ", ".join(outbox.pk for outbox in call), exc_info=outcome)
                outcomes = [(EmailStatus.FAILED, "", INTERNAL_ERROR, SendFailure.INTERNAL)] * len(call)
            else:
                outcomes = outcome
            if not self.pending:
                self.pending_since = time.monotonic()
            self.pending += [(outbox, *result) for outbox, result in zip(call, outcomes, strict=True)]
            if call[0].batch_id or len(self.pending) >= FLUSH_RESULTS or time.monotonic() - self.pending_since > FLUSH_SECONDS:
                self._flush()
            return None

    def _record_attempt(self, call: list[OutboundEmail]) -> None:
        # Written before the call: after a crash, `attempts` says whether the provider may have it.
        now = timezone.now()
        lease = now + lease_length()
        OutboundEmail.objects.filter(pk__in=[outbox.pk for outbox in call]).update(
            attempts=F("attempts") + 1, last_attempt_at=now, lease_expires_at=lease
        )
        for outbox in call:
            outbox.attempts, outbox.last_attempt_at, outbox.lease_expires_at = outbox.attempts + 1, now, lease

    def _retry_later(self, call: list[OutboundEmail], delay: float) -> None:
        """Schedule exactly that call again `delay` from now, its emails held (leased) until a lease past then."""
        when = timezone.now() + timedelta(seconds=delay)
        hold = when + lease_length()  # the retry may start late (a busy worker): the sweep must not take it meanwhile
        task_arguments = {"batch_id": call[0].batch_id} if call[0].batch_id else {"entry_ids": [call[0].pk]}
        # One transaction: on the database task backend the retry's task row commits with the hold.
        with transaction.atomic():
            OutboundEmail.objects.filter(pk__in=[outbox.pk for outbox in call]).update(lease_expires_at=hold)
            self.later(when, self.integration.pk, hold=hold.isoformat(), **task_arguments)
        self.counts["retrying"] += len(call)

    def _flush(self) -> None:
        # Forgotten only once written: if the settle fails, the run's last flush tries them again.
        if self.pending:
            settle_all(self.pending)
            self.counts.update(str(status) for _, status, *_ in self.pending)
            self.pending = []
