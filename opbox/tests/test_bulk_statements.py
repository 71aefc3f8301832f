"""opbox.bulk's update of many rows in one statement takes its row locks in primary-key order, the order every
writer of rows uses, so it never closes a lock cycle with another writer (issue 18, item 3). PostgreSQL, with a
second real connection holding a lock."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import uuid4

import pytest
from django.db import connections, transaction
from django.utils import timezone

from opbox.bulk import update_each
from opbox.models import TaskChain
from opbox.testing import OtherConnection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LOCK = "SELECT name FROM opbox_taskchain WHERE name = %s FOR UPDATE"


@pytest.fixture
def other(transactional_db):
    holder = OtherConnection()
    yield holder
    holder.close()


def test_update_each_locks_its_rows_in_primary_key_order_whatever_the_order_given(other):
    now = timezone.now()
    for name in ("zulu", "alpha"):  # the larger key first in the table, as in the changes
        TaskChain.objects.create(name=name, token=uuid4(), next_run_at=now)
    later = now + timedelta(hours=1)
    assert other.lock(LOCK, ["zulu"])

    def update():
        try:
            with transaction.atomic():
                update_each(TaskChain, ["next_run_at"], {"zulu": (later,), "alpha": (later,)})
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        updating = pool.submit(update)
        other.until_someone_waits()
        alpha_was_free = other.lock(LOCK, ["alpha"], nowait=True)
        other.rollback()
        updating.result()

    assert not alpha_was_free  # it locked "alpha" first, then waited for "zulu"
    assert set(TaskChain.objects.values_list("next_run_at", flat=True)) == {later}
