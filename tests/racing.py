"""Run code in several threads at the same instant, each thread on its own connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

from reservations.exceptions import ReservationError


def race(workers: list[Callable[[], Any]]) -> list[Any]:
    """Each worker's result, in order: what it returned, the code of a ReservationError it
    raised, or any other exception it raised (for the test to assert on)."""
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)

    def run(index: int, work: Callable[[], Any]) -> None:
        try:
            connection.ensure_connection()  # connect first, so the barrier starts real work
            barrier.wait()
            results[index] = work()
        except ReservationError as error:
            results[index] = error.code
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results
