"""Races over real HTTP on PostgreSQL: a live server, many clients at once, the last seats."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import requests
from rest_framework.authtoken.models import Token

from reservations.models import Reservation, Ticket
from reservations.selectors import slot_counter_mismatches
from tests.channels.api.conftest import credentials
from tests.world import World

D = dt.date
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def race(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Send every request from its own thread at the same instant."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], requests.Response]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - reported by the assertions
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, requests.Response) for r in results), results
    return results


@pytest.fixture
def headers(world: World) -> dict[str, str]:
    token, _created = Token.objects.get_or_create(user=world.operator)
    return {"Authorization": f"Token {token.key}"}


def in_progress(response: requests.Response) -> bool:
    return bool(response.json().get("code") == "request_in_progress")


def book(
    url: str,
    headers: dict[str, str],
    ticket: Ticket,
    slot_id: int,
    *,
    retry_in_progress: bool = True,
) -> Callable[[], requests.Response]:
    """A client that does what the API asks of partners: an Idempotency-Key on every booking,
    and the same request again when the connection breaks (the test server's listen queue
    overflows when dozens connect at once, as a real one can under load)."""
    body = credentials(ticket) | {"slot": slot_id}
    headers = {"Idempotency-Key": f"ticket-{ticket.number}"} | headers

    def call() -> requests.Response:
        for attempt in range(5):
            try:
                response = requests.post(
                    f"{url}/api/v1/reservations/", json=body, headers=headers, timeout=60
                )
            except requests.ConnectionError:
                time.sleep(0.2 * (attempt + 1))
                continue
            if not (retry_in_progress and response.status_code == 409 and in_progress(response)):
                return response
            time.sleep(0.2 * (attempt + 1))
        raise AssertionError("no final answer in five attempts")

    return call


def test_it_sells_the_last_seats_once_to_many_http_clients(
    world: World, clock: Any, live_server: Any, headers: dict[str, str]
) -> None:
    slot = world.slot(D(2026, 11, 10), capacity=4)
    tickets = [world.resident() for _i in range(30)]
    responses = race([book(live_server.url, headers, t, slot.pk) for t in tickets])
    outcomes = Counter(
        (r.status_code, r.json().get("code") if r.status_code != 201 else "booked")
        for r in responses
    )
    assert outcomes == {(201, "booked"): 4, (409, "slot_full"): 26}
    slot.refresh_from_db()
    assert slot.booked == 4 == Reservation.objects.filter(slot=slot).count()
    assert slot_counter_mismatches() == []


def test_concurrent_duplicates_with_one_key_book_once(
    world: World, clock: Any, live_server: Any, headers: dict[str, str]
) -> None:
    ticket, slot = world.resident(), world.slot(D(2026, 11, 10))
    keyed = headers | {"Idempotency-Key": "double-tap"}
    responses = race(
        [book(live_server.url, keyed, ticket, slot.pk, retry_in_progress=False) for _i in range(12)]
    )
    booked = [r for r in responses if r.status_code == 201]
    others = [r for r in responses if r.status_code != 201]
    assert booked, [r.content for r in responses]
    # Everyone got the first answer, byte for byte, or was told to retry.
    assert {r.content for r in booked} == {booked[0].content}
    assert all(
        r.status_code == 409 and r.json()["code"] == "request_in_progress" for r in others
    ), [r.content for r in others]
    assert Reservation.objects.count() == 1
    retry = book(live_server.url, keyed, ticket, slot.pk)()
    assert (retry.status_code, retry.content) == (201, booked[0].content)
