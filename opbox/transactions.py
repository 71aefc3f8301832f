"""Running a transaction again when it lost to a concurrent one.

Every writer of a table locks its rows in one order (primary key), so two of ours never deadlock. Anything
else still may (a writer outside this code, an order no index gives): PostgreSQL then aborts one of the
two, and the loser, having changed nothing, can simply run again. So can a serialization failure.
"""

import logging
import random
import time

from django.db import OperationalError, connection

logger = logging.getLogger(__name__)

# SQLSTATEs of a transaction PostgreSQL aborted to let a concurrent one finish.
LOST_TO_ANOTHER = {"40P01": "deadlock", "40001": "serialization failure"}


def lost_to_another(error: BaseException) -> bool:
    """Whether `error` is the database aborting this transaction in favour of a concurrent one."""
    return getattr(error.__cause__, "sqlstate", None) in LOST_TO_ANOTHER


def run_transaction(work, *, attempts: int = 4):
    """Call `work` (which opens its own transaction) and return its result; when the database aborted it for
    a concurrent one, call it again, up to `attempts` times in all, after a short random wait.

    Inside an outer transaction nothing can be retried (the abort ended that transaction too): it raises.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as error:
            if attempt == attempts or connection.in_atomic_block or not lost_to_another(error):
                raise
            why = LOST_TO_ANOTHER[error.__cause__.sqlstate]
            logger.warning("A transaction lost to a concurrent one (%s); running it again (attempt %d)", why, attempt + 1)
            time.sleep(random.uniform(0.01, 0.05 * attempt))  # noqa: S311 (spreading retries, not a secret)
    raise AssertionError("unreachable")
