"""Helpers shared by every app's tests (kept in the lowest layer so any app's tests may use them)."""

import threading

from django.db import connections


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
