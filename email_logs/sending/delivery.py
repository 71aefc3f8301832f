"""Delivery on the worker (SPEC §5, §10): queued emails of one integration go to its provider one call at a
time (up to the client's `batch_size` emails per call), each call at the integration's shared pace
(integrations/pacing.py), and their results are written in bulk. Leases are taken in `claims`, results
written in `settling`.

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
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from documents.attachments import render_attachments
from integrations import pacing
from integrations.crypto import EncryptionError
from integrations.models import Integration
from integrations.providers import ProviderError, ProviderRateLimited, client_for, provider_for_type

from ..models import EmailLogEntry, EmailStatus, OutboundEmail, SendFailure
from .claims import GROUPABLE, claim_batch, claim_emails, lease, lease_length, renew, unleased
from .settling import fail_unsent, settle, settle_all

logger = logging.getLogger(__name__)

CALLS_PER_TASK = 25  # a task hands its remaining emails on after this many calls or TASK_SECONDS (fairness)
TASK_SECONDS = 5.0
PARALLEL_SINGLES = 8  # one-email calls of an unpaced integration a worker makes at once
MAX_WAIT_IN_WORKER = 0.25  # a shorter wait for a turn is slept; a longer one frees the worker
FLUSH_RESULTS, FLUSH_SECONDS = 100, 0.5  # results of single sends are written in bulk at least this often
INTERNAL_ERROR = "Internal error while sending; see the server log."

# later(when, integration_id, **task_arguments): run the delivery task again at `when` with these arguments.
Later = Callable[..., None]


def retry_delay(error: ProviderError, attempts: int) -> float:
    """Seconds before the next attempt: exponential with jitter, at least the provider's Retry-After; capped
    at EMAIL_SEND_MAX_BACKOFF (a longer Retry-After is kept by pausing the integration instead).
    """
    exponential = 0.5 * 2 ** max(attempts - 1, 0)
    delay = exponential / 2 + random.uniform(0, exponential / 2)  # noqa: S311 (jitter, not a secret)
    if error.retry_after is not None:
        delay = max(delay, error.retry_after)
    return max(0.0, min(delay, settings.EMAIL_SEND_MAX_BACKOFF))



def deliver_queued(
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
    counts = deliver_queued(integration_id, [] if batch_id else [entry_id], batch_id=batch_id, later=later)
    if not counts:
        return "skipped"
    # Final now, so an expired row may already be purged (the settle's commit also ran its subscribers' fan-out).
    return EmailLogEntry.objects.filter(pk=entry_id).values_list("status", flat=True).first() or "purged"


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
                if self._left_to_turns_ahead(remaining, batch_id, slot, hold):
                    break
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
        free = OutboundEmail.objects.filter(unleased(timezone.now(), hold))
        return (free.filter(batch_id=batch_id) if batch_id else free.filter(pk__in=remaining, batch_id="")).exists()

    def _left_to_turns_ahead(self, remaining: list[str], batch_id: str, slot, hold) -> bool:
        """Whether this run leaves its emails to the turns other senders have reserved, and comes back after
        them without reserving one of its own (it ends then if they carried its emails).

        Each turn of a batching integration carries up to `batch_size` of its oldest groupable emails, so
        when those turns can carry every such email queued now, one more reservation would only go unused
        and push every later send back by one interval. Emails that go singly, and a scheduled retry (its
        emails held for it), always take their own turns.
        """
        if not (self.rate and self.later and remaining and not batch_id and slot is None and hold is None and self.client.batch_size > 1):
            return False
        ahead, first_free = pacing.turns_ahead(self.integration.pk, self.rate)
        if not ahead:
            return False
        queued = OutboundEmail.objects.filter(unleased(timezone.now()), entry__integration_id=self.integration.pk)
        counts = queued.aggregate(groupable=Count("pk", filter=GROUPABLE), mine_alone=Count("pk", filter=Q(pk__in=remaining) & ~GROUPABLE))
        if counts["mine_alone"] or counts["groupable"] > ahead * self.client.batch_size:
            return False
        self._hand_on(first_free, entry_ids=remaining)
        return True

    def _claim(self, remaining: list[str], batch_id: str, hold) -> list[list[OutboundEmail]]:
        """The provider calls to make now: one batch, or one or more emails that go singly."""
        if batch_id:
            return [call] if (call := claim_batch(batch_id, hold=hold)) else []
        size, refused = self.client.batch_size, []
        checked = {"workspace_id": self.integration.workspace_id, "refused": refused}  # suppressions apply at the claim
        try:
            # On a worker a batch carries the integration's oldest groupable emails, this run's or not
            # (claims.claim_emails). Inline, a request sends only its own.
            coalesce = self.integration.pk if self.later is not None else None
            if size > 1 and not self.leased and (call := claim_emails(remaining, limit=size, group=True, hold=hold, coalesce=coalesce, **checked)):
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
            singles = renew(singles, timezone.now())  # those still this run's after the renders
            if singles or not self.leased:
                break
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
                    lease(call, timezone.now())
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
