"""The queue's two stores run one algorithm: memory (embedded default) and Redis (production)."""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from channels.waiting_room import middleware, queue
from channels.waiting_room.queue import MemoryQueue, QueueStore, RedisQueue
from channels.waiting_room.room import COOKIE_NAME, WaitingRoom

T0 = 1_800_000_000.0


def redis_queue() -> RedisQueue:
    return RedisQueue(os.environ["CELERY_BROKER_URL"], key=f"test-waiting-room:{uuid.uuid4()}")


@pytest.fixture(
    params=[pytest.param("memory"), pytest.param("redis", marks=pytest.mark.redis)],
)
def store(request: pytest.FixtureRequest) -> Iterator[QueueStore]:
    if request.param == "memory":
        yield MemoryQueue()
        return
    shared = redis_queue()
    yield shared
    queue._redis_client(shared.url).delete(shared.key)


def test_it_banks_a_burst_then_admits_at_the_rate(store: QueueStore) -> None:
    turns = [store.take_number(rate=4, burst=3, now=T0) for _ in range(5)]
    assert [t.number for t in turns] == [1, 2, 3, 4, 5]
    assert {t.head for t in turns} == {3.0}
    assert store.look(rate=4, burst=3, now=T0 + 0.5).head == 5.0
    # Nobody waiting: at most `burst` admissions bank up, however long the quiet lasts.
    assert store.look(rate=4, burst=3, now=T0 + 3600).head == 8.0
    assert store.look(rate=4, burst=3, now=T0 + 3600).issued == 5


def test_the_head_never_moves_back(store: QueueStore) -> None:
    store.take_number(rate=1, burst=1, now=T0 + 10)
    assert store.look(rate=1, burst=1, now=T0).head == 1.0  # an earlier clock changes nothing
    assert store.look(rate=1, burst=1, now=T0 + 10.5).head == 1.5


def test_numbers_are_unique_under_concurrent_arrivals(store: QueueStore) -> None:
    numbers: list[int] = []
    lock = threading.Lock()

    def arrive() -> None:
        for _ in range(50):
            number = store.take_number(rate=1, burst=1).number
            with lock:
                numbers.append(number)

    threads = [threading.Thread(target=arrive) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(1, 401))


def test_the_epoch_stays_with_the_state(store: QueueStore) -> None:
    first = store.take_number(rate=1, burst=1, now=T0)
    assert store.look(rate=1, burst=1, now=T0 + 1).epoch == first.epoch


@pytest.mark.redis
def test_a_room_on_redis_admits_first_come_first_served() -> None:
    shared = redis_queue()
    # Two web processes: two rooms on one Redis queue.
    rooms = [WaitingRoom(store=shared, rate=2, burst=1, admission_minutes=20) for _ in range(2)]
    assert rooms[0].enter(None, now=T0).admitted
    queued = [rooms[i % 2].enter(None, now=T0) for i in range(4)]
    assert [v.number for v in queued] == [2, 3, 4, 5]
    assert [v.estimate_seconds for v in queued] == [1, 1, 2, 2]  # 0.5, 1.0, 1.5, 2.0 s
    at_one_second = [rooms[1].enter(v.cookie, now=T0 + 1).admitted for v in queued]
    assert at_one_second == [True, True, False, False]


@pytest.mark.redis
def test_redis_reloads_a_script_it_forgot() -> None:
    shared = redis_queue()
    shared.take_number(rate=1, burst=1, now=T0)
    queue._queue_script(shared.url).sha = "0" * 40  # as after a restart or SCRIPT FLUSH
    assert shared.take_number(rate=1, burst=1, now=T0).number == 2


@pytest.mark.redis
@pytest.mark.django_db
def test_the_middleware_queues_on_redis(
    settings: Any, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    key = f"test-waiting-room:{uuid.uuid4()}"
    monkeypatch.setattr(middleware, "RedisQueue", functools.partial(RedisQueue, key=key))
    settings.WAITING_ROOM_ADMIT_PER_SECOND = 0.01  # one a hundred seconds: no turn comes
    settings.WAITING_ROOM_BURST = 1
    settings.WAITING_ROOM_REDIS_URL = os.environ["CELERY_BROKER_URL"]
    middleware.waiting_room_reset()
    try:
        assert b'id="waiting-room"' not in Client().get("/").content
        resident = Client()
        with django_assert_num_queries(0):
            page = resident.get("/").content.decode()
            again = resident.get("/").content.decode()
        assert 'data-number="2"' in page and 'data-number="2"' in again
        assert COOKIE_NAME in resident.cookies
    finally:
        middleware.waiting_room_reset()
        queue._redis_client(settings.WAITING_ROOM_REDIS_URL).delete(key)
