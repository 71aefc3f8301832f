"""One attempt at delivering (SPEC §15): claim the deliveries, call the integration's connector once, and
record what happened: delivered, due again on the retry schedule (by `run_after`, never holding a worker),
or failed with the reason.

- Pacing is the integrations' shared pacer (the one email sends use): a turn taken in the database, so every
  worker keeps an integration's pace, and a 429 pauses that integration alone. An attempt that must wait
  is enqueued again for its turn; the worker moves on to other integrations' deliveries meanwhile.
- A claim is a token and a lease. Only the holder of the token records an outcome, so a delivery is never
  recorded twice; a worker that died holding one leaves it to the sweep once the lease ends, and the next
  attempt carries the same id (the `webhook-id`).
"""

import logging
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from documents.rendering import stored_files
from integrations.crypto import EncryptionError
from integrations.models import Integration
from integrations.oauth import StoredTokens
from integrations.pacing import pause, take_turn
from integrations.providers import (
    ProviderError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    connector_for,
)
from integrations.providers.events import OutgoingEvent
from integrations.services import disable_gone_integration
from opbox.errors import ApplicationError

from .models import Delivery, DeliveryStatus, unclaimed

logger = logging.getLogger(__name__)

# Enqueue an attempt at (integration id, delivery ids) to run at a time; `reserved`: it comes for a pacing turn
# reserved for it, which goes before callers that reserved nothing.
Later = Callable[..., None]
INLINE_WAIT_LIMIT = 2.0  # seconds an inline attempt (no worker to come back on) waits for its pacing turn
TASK_TIME_BUDGET = 2.0  # seconds of calls one task makes before it hands the rest of its run back to the queue
RETRYABLE = (ProviderTimeout, ProviderUnavailable, ProviderRateLimited, ProviderQuotaExceeded)


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered, retry, failed, gone
    response: str = ""
    error: str = ""
    wait: float | None = None  # a Retry-After, in seconds


def delay_after(round_attempts: int) -> float | None:
    """Seconds before the next attempt after `round_attempts` attempts failed; None when the schedule is spent."""
    schedule = settings.DELIVERY_RETRY_SCHEDULE
    return float(schedule[round_attempts]) if round_attempts < len(schedule) else None


def link_for(event_type: str, data: dict) -> str:
    """The absolute URL (under OPBOX_BASE_URL) of the page of what an event is about; "" when it has none."""
    try:
        if event_type.startswith("email.") and data.get("tableId") and data.get("id"):
            path = reverse("emails:email", args=[data["tableId"], data["id"]])
        elif event_type.startswith("document.") and data.get("tableId") and data.get("id"):
            path = reverse("documents:document", args=[data["tableId"], data["id"]])
        elif event_type.startswith("integration.") and data.get("id"):
            path = reverse("integration-settings:edit", args=[data["id"]])
        else:
            return ""
    except NoReverseMatch:
        return ""
    return settings.OPBOX_BASE_URL + path


def judge(error: ApplicationError, client_class) -> Outcome:
    """What a failed call means for the delivery: retried (timeouts, lost connections, 429, 5xx, and for
    webhooks any refusal but a 410), gone (a webhook's 410), or failed for good with the reason."""
    detail = getattr(error, "detail", str(error))
    if not isinstance(error, ProviderError):
        return Outcome("failed", "", detail)
    response = error.code or (str(error.status_code) if error.status_code else "")
    if error.status_code == 410 and client_class.gone_disables:
        return Outcome("gone", response, detail)
    if isinstance(error, RETRYABLE) or (client_class.retries_any_refusal and error.status_code is not None):
        return Outcome("retry", response or type(error).__name__, detail, error.retry_after)
    return Outcome("failed", response, detail)


def unexpected(error: Exception) -> Outcome:
    """An exception no connector maps (a bug, or the document storage failing): retried on the schedule, which
    fails the delivery if it persists. Logged by its type and frames, not its text, which may hold anything."""
    kind = type(error).__name__
    logger.error("Unexpected %s during a delivery attempt:\n%s", kind, "".join(traceback.format_tb(error.__traceback__)))
    return Outcome("retry", kind, f"Opbox failed unexpectedly while delivering ({kind}); it will try again.")


def attempt(integration_id: str, delivery_ids: list[str], *, later: Later | None, reserved: bool = False) -> str:
    """Make one attempt at these deliveries of one integration (those still pending and due); returns what happened."""
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        return "no integration"  # deleted: its deliveries went with it
    if not integration.enabled:
        Delivery.objects.filter(pk__in=delivery_ids, status=DeliveryStatus.PENDING, claim="").update(
            status=DeliveryStatus.FAILED, error="The integration is disabled.", next_attempt_at=None, updated_at=timezone.now()
        )
        return "disabled"
    connector = connector_for(integration.type)
    turn = take_turn(integration_id, connector.requests_per_second, reserved=reserved)
    if turn is not None and later is None and (turn - timezone.now()).total_seconds() <= INLINE_WAIT_LIMIT:
        # Inline (no worker to come back on): a turn a moment away is waited for here.
        time.sleep(max((turn - timezone.now()).total_seconds(), 0.0))
        turn = take_turn(integration_id, connector.requests_per_second, reserved=True)
    if turn is not None:
        if later is None:  # left due at its turn, for a worker's sweep
            Delivery.objects.filter(pk__in=delivery_ids, status=DeliveryStatus.PENDING, claim="").update(next_attempt_at=turn)
        else:
            later(turn, integration_id, delivery_ids, reserved=True)
        return "paced"
    token = uuid.uuid4().hex
    deliveries = _claim(integration_id, delivery_ids, token)
    if not deliveries:
        return "nothing due"
    client_class = connector.client_class
    try:
        tokens = StoredTokens(integration) if client_class.refreshes_tokens else None
        client = connector.client(integration.config, integration.credentials, identity=_identity(integration), tokens=tokens)
    except ApplicationError as error:
        return _record(integration, token, [(deliveries, judge(error, client_class))], later)
    except EncryptionError as error:
        return _record(integration, token, [(deliveries, Outcome("failed", "", f"The stored credentials cannot be decrypted: {error}"))], later)
    except Exception as error:  # noqa: BLE001 (recorded, so the claim does not wait out its lease)
        return _record(integration, token, [(deliveries, unexpected(error))], later)
    return _record(integration, token, _calls(client, deliveries, token, worker=later is not None), later)


def _calls(client, deliveries: list[Delivery], token: str, *, worker: bool) -> list[tuple[list[Delivery], Outcome]]:
    """Deliver the claimed deliveries, `delivery_batch` a call. A 429 or a 410 stops there, and so, on a worker
    (which comes back for the rest at once), does any failure or a run past TASK_TIME_BUDGET (a slow endpoint
    keeps no worker from other integrations' tasks for long): the deliveries not tried go back untried."""
    size, client_class = client.delivery_batch, type(client)
    chunks = [deliveries[start : start + size] for start in range(0, len(deliveries), size)]
    lease = settings.DELIVERY_LEASE_SECONDS
    started = time.monotonic()
    renew_at = started + lease / 3
    results = []
    for n, chunk in enumerate(chunks):
        if time.monotonic() > renew_at:  # a slow endpoint: keep the claim, so the sweep does not attempt them too
            Delivery.objects.filter(claim=token).update(claimed_until=timezone.now() + timedelta(seconds=lease))
            renew_at = time.monotonic() + lease / 3
        try:
            files = _document_files(chunk)
            outcome = Outcome("delivered", client.deliver([_outgoing(delivery, files) for delivery in chunk]))
        except ApplicationError as error:
            outcome = judge(error, client_class)
        except Exception as error:  # noqa: BLE001 (what was delivered before it must still be recorded)
            outcome = unexpected(error)
        results.append((chunk, outcome))
        over_budget = worker and time.monotonic() - started > TASK_TIME_BUDGET
        if (outcome.status != "delivered" and (worker or outcome.status == "gone" or outcome.wait)) or over_budget:
            rest = [delivery for later_chunk in chunks[n + 1 :] for delivery in later_chunk]
            if rest:
                results.append((rest, Outcome("untried", wait=outcome.wait)))
            break
    return results


def _identity(integration: Integration) -> dict:
    return {"id": integration.pk, "name": integration.name, "type": integration.type}


def _claim(integration_id: str, delivery_ids: list[str], token: str) -> list[Delivery]:
    now = timezone.now()
    lease = now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    Delivery.objects.filter(unclaimed(now), pk__in=delivery_ids, integration_id=integration_id, status=DeliveryStatus.PENDING,
                            next_attempt_at__lte=now).update(  # fmt: skip
        claim=token, claimed_until=lease, attempts=F("attempts") + 1, round_attempts=F("round_attempts") + 1, updated_at=now
    )
    return list(Delivery.objects.filter(claim=token).select_related("event").order_by("event__created_at", "event_id"))


def _document_files(deliveries: list[Delivery]) -> dict:
    """The stored files of the generated documents these deliveries are about (one query; none for email events),
    opened from storage (STORAGES["documents"]) only when a receiver reads one."""
    wanted = [(d.event.workspace_id, str(d.event.data["id"])) for d in deliveries
              if d.event.type == "document.generated" and isinstance(d.event.data, dict) and d.event.data.get("id")]  # fmt: skip
    return stored_files(wanted)


def _outgoing(delivery: Delivery, files: dict) -> OutgoingEvent:
    event = delivery.event
    data = event.data if isinstance(event.data, dict) else {}
    document = files.get(str(data.get("id"))) if event.type == "document.generated" else None
    return OutgoingEvent(delivery.pk, event.type, event.created_at, data, link_for(event.type, data), document=document,
                         attempt=delivery.attempts)  # fmt: skip


def _record(integration: Integration, token: str, results: list[tuple[list[Delivery], Outcome]], later: Later | None) -> str:
    """Record each group's outcome, only for deliveries this attempt still holds (`token`), in one transaction with
    the retries' tasks; returns the first outcome's status."""
    now = timezone.now()
    gone = any(outcome.status == "gone" for _, outcome in results)
    again: dict[datetime | None, list[str]] = {}
    with transaction.atomic():
        for deliveries, outcome in results:
            held = Delivery.objects.filter(claim=token, status=DeliveryStatus.PENDING, pk__in=[d.pk for d in deliveries])
            released = {"claim": "", "claimed_until": None, "updated_at": now, "response": outcome.response[:64], "error": outcome.error}
            if outcome.status == "delivered":
                held.update(status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None, **released)
            elif outcome.status in ("failed", "gone") or (outcome.status == "untried" and gone):
                error = outcome.error or "Not attempted: the integration was disabled (its endpoint answered 410 Gone)."
                held.update(status=DeliveryStatus.FAILED, next_attempt_at=None, **{**released, "error": error})
                if outcome.status == "gone":
                    disable_gone_integration(integration, f"Disabled: the endpoint answered 410 Gone to a delivery ({outcome.error})")
            elif outcome.status == "untried":  # claimed, never sent: the attempt does not count
                when = now + timedelta(seconds=outcome.wait or 0.0)
                held.update(attempts=F("attempts") - 1, round_attempts=F("round_attempts") - 1, next_attempt_at=when,
                            claim="", claimed_until=None, updated_at=now)  # fmt: skip
                # Back into the queue behind what waits there already (no run_after), unless a pause says when.
                again.setdefault(when if outcome.wait else None, []).extend(d.pk for d in deliveries)
            else:
                _schedule_retries(integration, held, deliveries, outcome, released, now, again)
        if later is not None:
            for when, ids in again.items():
                later(when, integration.pk, ids)  # in this transaction: the retry and its task commit together
    return results[0][1].status


def _schedule_retries(integration, held, deliveries, outcome: Outcome, released: dict, now, again: dict) -> None:
    if outcome.wait:
        pause(integration.pk, outcome.wait)  # every worker holds off this integration until its Retry-After
    by_round: dict[int, list[str]] = {}
    for delivery in deliveries:
        by_round.setdefault(delivery.round_attempts, []).append(delivery.pk)
    for round_attempts, ids in by_round.items():
        delay = delay_after(round_attempts)
        if delay is None:
            gave_up = f"Gave up after {round_attempts} attempts: {outcome.error}"
            held.filter(pk__in=ids).update(status=DeliveryStatus.FAILED, next_attempt_at=None, **{**released, "error": gave_up})
            continue
        when = now + timedelta(seconds=max(delay, outcome.wait or 0.0))
        if held.filter(pk__in=ids).update(next_attempt_at=when, **released):
            again.setdefault(when, []).extend(ids)
