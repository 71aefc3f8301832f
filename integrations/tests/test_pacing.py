"""Shared pacing: an integration's calls to its service keep to a rate counted across every worker
process, and a 429 pauses it for all of them (state in the database, never in a process)."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from integrations import pacing
from integrations.models import IntegrationPace
from opbox.testing import OtherConnection


@pytest.fixture
def integration(make_integration):
    return make_integration("EMAIL_PROVIDER").pk


# The pacer itself -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_turns_are_one_interval_apart_and_a_waiting_sender_gets_the_next_free_one(integration):
    assert pacing.take_turn(integration, 2.0) is None  # the first call goes at once
    first_wait = pacing.take_turn(integration, 2.0)
    second_wait = pacing.take_turn(integration, 2.0)

    # Two senders that cannot go now get two different turns, half a second apart (2 per second).
    assert first_wait is not None and second_wait - first_wait == timedelta(seconds=0.5)
    assert timedelta(0) < first_wait - timezone.now() <= timedelta(seconds=0.5)


@pytest.mark.django_db
def test_a_pause_holds_every_sender_paced_or_not_until_it_ends(integration):
    until = pacing.pause(integration, 30)

    assert pacing.take_turn(integration, 2.0) >= until
    assert pacing.take_turn(integration, None) >= until
    pacing.pause(integration, 5)  # a shorter pause seen later does not end it early
    assert pacing.take_turn(integration, None) >= until


@pytest.mark.django_db
def test_an_unpaced_integration_that_is_not_paused_always_goes(integration):
    assert all(pacing.take_turn(integration, None) is None for _ in range(5))


def on_its_own_connection(work):
    def run():
        try:
            return work()
        finally:
            connections.close_all()

    return run


# The database's clock, not each node's ---------------------------------------------------------------


@pytest.fixture
def clock_ahead(monkeypatch):
    """This process becomes a node whose clock runs `seconds` ahead of the others' (and the database's)."""

    real_now = timezone.now

    def set_ahead(seconds):
        monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=seconds))

    return set_ahead


@pytest.mark.django_db
def test_a_node_whose_clock_runs_ahead_still_waits_for_the_next_turn(integration, clock_ahead):
    assert pacing.take_turn(integration, 2.0) is None  # a node with the right time calls now

    clock_ahead(10)  # another node, 10 s ahead

    assert pacing.take_turn(integration, 2.0) is not None
    assert pacing.take_turn(integration, 2.0, reserved=True) is not None


@pytest.mark.django_db
def test_a_pause_lasts_its_retry_after_on_the_databases_clock_whatever_the_nodes(integration, clock_ahead):
    clock_ahead(-40)  # the node that saw the 429 runs 40 s behind
    pacing.pause(integration, 30)
    clock_ahead(0)

    assert pacing.take_turn(integration, None) is not None  # still paused for everyone, ~30 s from now


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_turn_taken_after_a_wait_on_the_row_lock_counts_from_when_it_was_taken(integration):
    """A sender's UPDATE waits while another holds the pace row (a reservation being written); its turn is the
    moment its UPDATE goes through, not the moment it was sent, or the next sender could go right after it."""
    IntegrationPace.objects.create(integration_id=integration, last_call_at=timezone.now() - timedelta(seconds=10))
    other = OtherConnection()
    try:
        other.lock("UPDATE integrations_integrationpace SET next_slot_at = next_slot_at WHERE integration_id = %s", [integration])
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(on_its_own_connection(lambda: pacing.take_turn(integration, 2.0, reserved=True)))
            other.until_someone_waits()
            time.sleep(1.0)  # the row stays locked a while
            other.commit()
            assert waiting.result() is None  # its turn, once the lock was free
        next_sender = pacing.take_turn(integration, 2.0, reserved=True)
    finally:
        other.close()

    assert next_sender is not None  # one interval (0.5 s) after the turn just taken, not after the wait began

