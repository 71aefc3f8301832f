"""Shared pacing: an integration's calls to its service keep to a rate counted across every worker
process, and a 429 pauses it for all of them (state in the database, never in a process)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations import pacing


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
