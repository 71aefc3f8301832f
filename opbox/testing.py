"""Helpers shared by every app's tests (kept in the lowest layer so any app's tests may use them)."""

import threading
import time

import psycopg
from django.db import connection, connections


def race(calls):
    """Run the callables at the same moment, one thread (and database connection) each; return their results."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class OtherConnection:
    """A second PostgreSQL connection of the test's database, outside Django, for tests that must make a
    lock wait or a deadlock happen: it takes row locks in its own transaction when told, and says when
    some other connection is waiting for a lock.

    Its `deadlock_timeout` is long, so when it closes a cycle the other party (whose timer runs out first)
    is the one PostgreSQL aborts, as when two of ours meet.
    """

    def __init__(self):
        self.connection = psycopg.connect(**connection.get_connection_params())
        self.observer = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        self.connection.execute("SET deadlock_timeout = '60s'")
        self.connection.commit()  # a setting of the session, kept whatever later transactions do

    def lock(self, sql: str, params=(), *, nowait: bool = False) -> bool:
        """Run `sql` (a SELECT ... FOR UPDATE) in this connection's transaction; with `nowait`, return False
        instead of waiting when another transaction holds one of its rows."""
        if not nowait:
            self.connection.execute(sql, params)
            return True
        self.connection.execute("SAVEPOINT before_nowait")  # a refused NOWAIT keeps the locks already held
        try:
            self.connection.execute(f"{sql} NOWAIT", params)
        except psycopg.errors.LockNotAvailable:
            self.connection.execute("ROLLBACK TO SAVEPOINT before_nowait")
            return False
        return True

    def waiters(self) -> int:
        """How many other connections of this database are waiting for a lock now."""
        (count,) = self.observer.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> %s",
            [self.connection.info.backend_pid],
        ).fetchone()
        return count

    def until_someone_waits(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.waiters():
            if time.monotonic() > deadline:
                raise AssertionError("no connection came to wait for a lock")
            time.sleep(0.02)

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()

    def close(self) -> None:
        self.connection.close()
        self.observer.close()
