"""The waiting room's decision per request, on the memory queue, with an explicit clock."""

from __future__ import annotations

from django.core import signing

from channels.waiting_room.queue import MemoryQueue
from channels.waiting_room.room import (
    ADMISSION_RENEW_SECONDS,
    ADMISSION_SALT,
    TICKET_SALT,
    Verdict,
    WaitingRoom,
)

T0 = 1_800_000_000.0  # any moment: the room only ever compares times it was given


def room(*, rate: float = 2.0, burst: int = 3, minutes: int = 20) -> WaitingRoom:
    return WaitingRoom(store=MemoryQueue(), rate=rate, burst=burst, admission_minutes=minutes)


def test_it_admits_at_once_below_capacity() -> None:
    waiting = room(rate=2, burst=3)
    verdicts = [waiting.enter(None, now=T0) for _ in range(3)]
    assert all(v.admitted for v in verdicts)
    assert [v.number for v in verdicts] == [1, 2, 3]
    # Half a second later one more admission has accrued (2 a second): the next is in too.
    assert waiting.enter(None, now=T0 + 0.5).admitted


def test_it_queues_beyond_capacity_with_an_exact_estimate() -> None:
    waiting = room(rate=2, burst=3)
    for _ in range(3):
        waiting.enter(None, now=T0)
    fourth = waiting.enter(None, now=T0)
    tenth = [waiting.enter(None, now=T0) for _ in range(6)][-1]
    assert not fourth.admitted and fourth.cookie is not None
    assert (fourth.number, fourth.position, fourth.estimate_seconds) == (4, 1, 1)
    assert (tenth.number, tenth.position, tenth.estimate_seconds) == (10, 7, 4)
    # The page comes back when the turn is due (between 1 and 20 seconds).
    assert fourth.refresh_seconds == 1 and tenth.refresh_seconds == 4


def test_it_admits_first_come_first_served() -> None:
    waiting = room(rate=1, burst=1)
    waiting.enter(None, now=T0)
    queued = [waiting.enter(None, now=T0) for _ in range(5)]  # numbers 2..6
    admitted_at: dict[int, float] = {}
    for tick in range(12):
        moment = T0 + tick * 0.5
        for verdict in reversed(queued):  # later numbers ask first: no help to them
            if verdict.number in admitted_at:
                continue
            if waiting.enter(verdict.cookie, now=moment).admitted:
                admitted_at[verdict.number] = moment
    assert sorted(admitted_at, key=admitted_at.__getitem__) == [2, 3, 4, 5, 6]
    # Each admitted exactly when the estimate given on arrival said: position / rate.
    for verdict in queued:
        assert admitted_at[verdict.number] - T0 == verdict.estimate_seconds


def test_refreshing_and_more_tabs_keep_the_same_number() -> None:
    waiting = room(rate=1, burst=1)
    waiting.enter(None, now=T0)
    mine = waiting.enter(None, now=T0)
    for later in (0.1, 0.2, 0.3):  # refreshes and a second tab: the same cookie
        again = waiting.enter(mine.cookie, now=T0 + later)
        assert not again.admitted
        assert again.number == mine.number
        assert again.cookie is None  # the browser keeps its ticket
    # Someone who dropped the cookie gets a new, later number.
    dropped = waiting.enter(None, now=T0 + 0.3)
    assert dropped.number > mine.number
    assert dropped.estimate_seconds > mine.estimate_seconds


def test_a_forged_number_is_a_new_arrival() -> None:
    waiting = room(rate=1, burst=1)
    for _ in range(5):
        waiting.enter(None, now=T0)
    late = waiting.enter(None, now=T0)
    assert late.cookie is not None
    forged = late.cookie.replace(late.cookie.split(":")[0], signing.b64_encode(b'{"n":1}').decode())
    unsigned = signing.dumps({"n": 1, "e": "x"}, salt="another-salt")
    admission_as_ticket = signing.dumps({"n": 1, "s": T0}, salt=TICKET_SALT)
    for cookie in (forged, unsigned, admission_as_ticket, "garbage"):
        verdict = waiting.enter(cookie, now=T0)
        assert not verdict.admitted
        assert verdict.number > late.number  # the back of the queue, a fresh ticket
        assert verdict.cookie is not None


def test_a_ticket_of_an_earlier_queue_is_worthless() -> None:
    before, after = room(rate=1, burst=1), room(rate=1, burst=1)  # e.g. Redis lost its state
    before.enter(None, now=T0)
    old = before.enter(None, now=T0)
    verdict = after.enter(old.cookie, now=T0)
    assert verdict.cookie is not None and verdict.cookie != old.cookie


def test_an_admission_is_checked_without_the_queue_and_slides() -> None:
    class NoQueue(MemoryQueue):
        def look(self, **kwargs: object) -> object:  # type: ignore[override]
            raise AssertionError("an admitted request must not reach the queue")

        take_number = look  # type: ignore[assignment]

    waiting = room(rate=1, burst=1, minutes=20)
    first = waiting.enter(None, now=T0)
    assert first.admitted and first.cookie
    checked = WaitingRoom(store=NoQueue(), rate=1, burst=1, admission_minutes=20)
    cookie = first.cookie
    moment = T0
    for _ in range(5):  # active for 5 x 19 minutes: never sent back
        moment += 19 * 60
        verdict = checked.enter(cookie, now=moment)
        assert verdict.admitted and verdict.cookie is not None
        cookie = verdict.cookie
    soon = checked.enter(cookie, now=moment + ADMISSION_RENEW_SECONDS / 2)
    assert soon.admitted and soon.cookie is None  # not re-signed on every request
    assert signing.loads(cookie, salt=ADMISSION_SALT)["n"] == 1


def test_an_expired_admission_queues_again_once() -> None:
    waiting = room(rate=1, burst=1, minutes=20)
    admitted = waiting.enter(None, now=T0)
    later = T0 + 21 * 60
    waiting.enter(None, now=later)  # somebody else takes the banked admission
    again = waiting.enter(admitted.cookie, now=later)
    assert not again.admitted and again.cookie is not None
    # From then on the new ticket keeps its place: a re-sent form does not lose it again.
    resent = waiting.enter(again.cookie, now=later + 0.2)
    assert (resent.number, resent.admitted) == (again.number, False)
    assert waiting.enter(again.cookie, now=later + again.estimate_seconds).admitted


def test_the_refresh_stays_between_one_and_twenty_seconds() -> None:
    waiting = room(rate=0.5, burst=1)
    waiting.enter(None, now=T0)
    verdicts: list[Verdict] = [waiting.enter(None, now=T0) for _ in range(30)]
    assert verdicts[0].estimate_seconds == 2 and verdicts[0].refresh_seconds == 2
    assert verdicts[-1].estimate_seconds == 60 and verdicts[-1].refresh_seconds == 20


def test_failing_open_keeps_or_grants_an_admission() -> None:
    waiting = room(rate=1, burst=1)
    granted = waiting.admit_unqueued(None, now=T0)
    assert granted.admitted and granted.cookie is not None
    assert waiting.enter(granted.cookie, now=T0 + 60).admitted
