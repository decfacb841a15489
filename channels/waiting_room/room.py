"""Who goes in: the waiting room's decision for one request, from its cookie and the queue.

The cookie (COOKIE_NAME) holds one of two signed values, each under its own salt so neither
can pass for the other:

- a **ticket**, `{"n": number, "e": epoch}`: the holder's place in the queue. A refresh, a
  second tab or a re-sent form carries the same cookie and so the same number; a client that
  drops cookies takes a new, later number each time. A forged or altered ticket fails the
  signature and is treated as no cookie at all (a new arrival at the back).
- an **admission**, `{"n": number, "s": last seen}`: checked by signature and age only (no
  Redis, no database), valid for WAITING_ROOM_ADMISSION_MINUTES after the holder's last
  request and renewed while they keep going (sliding), so a resident in the middle of the flow
  is never sent back to the queue.

Why a rate (admissions per second) and not a count of residents inside: the booking pages'
capacity is measured in bookings per second, a resident books about once per admission, and a
rate makes the wait of everyone in the queue a fact, (number - head) / rate, instead of a guess
about how long the people inside will take. A count would need every departure reported, which
a closed tab never does.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from django.core import signing

from channels.waiting_room.queue import QueueStore, Turn

COOKIE_NAME = "madoguchi_queue"
TICKET_SALT = "madoguchi.waiting_room.ticket"
ADMISSION_SALT = "madoguchi.waiting_room.admission"
# A ticket outlives any plausible wait; the queue state itself lasts a day (queue.py).
TICKET_MAX_AGE_SECONDS = 24 * 3600
# An admission is re-signed (a new Set-Cookie) at most this often while the resident is active:
# the sliding expiry need not move on every request.
ADMISSION_RENEW_SECONDS = 60
# The queue page refreshes itself when the holder's turn is due, but at least this often, so a
# long wait shows its progress, and never more often than the floor. Only the few people due
# within REFRESH_MAX_SECONDS refresh sooner (at most rate x that many), so the refreshes of a
# queue of N cost about N / REFRESH_MAX_SECONDS requests a second, whatever its length.
REFRESH_MIN_SECONDS = 1
REFRESH_MAX_SECONDS = 20


@dataclass(frozen=True)
class Verdict:
    admitted: bool
    # The cookie value to set, or None to leave the browser's cookie as it is.
    cookie: str | None
    cookie_max_age: int
    number: int = 0
    position: int = 0
    estimate_seconds: int = 0
    refresh_seconds: int = 0


class WaitingRoom:
    def __init__(
        self, *, store: QueueStore, rate: float, burst: int, admission_minutes: int
    ) -> None:
        self.store = store
        self.rate = rate
        self.burst = burst
        self.admission_seconds = admission_minutes * 60

    def enter(self, cookie: str | None, *, now: float | None = None) -> Verdict:
        """The decision for a request carrying `cookie` (the COOKIE_NAME value, if any).

        `now` is the caller's clock (tests); by default cookies use this machine's clock and
        the queue uses the store's own (Redis's, shared by every machine)."""
        moment = time.time() if now is None else now
        if cookie:
            admission = self._admission(cookie, moment)
            if admission is not None:
                return admission
            ticket = _load(cookie, TICKET_SALT)
            if ticket is not None:
                turn = self.store.look(rate=self.rate, burst=self.burst, now=now)
                number = ticket.get("n")
                if (
                    isinstance(number, int)
                    and ticket.get("e") == turn.epoch
                    and 0 < number <= turn.issued
                ):
                    return self._verdict(number, turn, moment, ticket_cookie=None)
        # No cookie, a forged one, a ticket of a queue that no longer exists, or an admission
        # that ran out: a new arrival, at the back of the queue (or straight in below capacity).
        turn = self.store.take_number(rate=self.rate, burst=self.burst, now=now)
        ticket_cookie = signing.dumps({"n": turn.number, "e": turn.epoch}, salt=TICKET_SALT)
        return self._verdict(turn.number, turn, moment, ticket_cookie=ticket_cookie)

    def admit_unqueued(self, cookie: str | None, *, now: float | None = None) -> Verdict:
        """Let the request in without the queue (its store failed): keep a valid admission,
        or grant one, numbered 0 since no number was taken."""
        moment = time.time() if now is None else now
        admission = self._admission(cookie, moment) if cookie else None
        if admission is not None:
            return admission
        return Verdict(
            admitted=True,
            cookie=self._admission_cookie(0, moment),
            cookie_max_age=self.admission_seconds,
        )

    def _admission(self, cookie: str, moment: float) -> Verdict | None:
        admission = _load(cookie, ADMISSION_SALT)
        if admission is None:
            return None
        seen = admission.get("s")
        number = admission.get("n")
        if not isinstance(seen, int | float) or not isinstance(number, int):
            return None
        if moment - seen > self.admission_seconds:
            return None
        renewed = (
            self._admission_cookie(number, moment)
            if moment - seen >= ADMISSION_RENEW_SECONDS
            else None
        )
        return Verdict(
            admitted=True, cookie=renewed, cookie_max_age=self.admission_seconds, number=number
        )

    def _admission_cookie(self, number: int, moment: float) -> str:
        return signing.dumps({"n": number, "s": round(moment, 3)}, salt=ADMISSION_SALT)

    def _verdict(
        self, number: int, turn: Turn, moment: float, *, ticket_cookie: str | None
    ) -> Verdict:
        # The margin absorbs float rounding in the head's arithmetic, so a refresh timed for
        # the turn is not a second early in the last digit.
        if number <= turn.head + 1e-6:
            return Verdict(
                admitted=True,
                cookie=self._admission_cookie(number, moment),
                cookie_max_age=self.admission_seconds,
                number=number,
            )
        ahead = number - turn.head
        estimate = ahead / self.rate
        return Verdict(
            admitted=False,
            cookie=ticket_cookie,
            cookie_max_age=TICKET_MAX_AGE_SECONDS,
            number=number,
            # The place in line, counting this resident: 1 = next to be let in.
            position=math.ceil(ahead),
            estimate_seconds=math.ceil(estimate),
            # Come back when the turn is due: the head moves at a fixed rate, so that moment is
            # known; within a second of it the admission is there.
            refresh_seconds=min(REFRESH_MAX_SECONDS, max(REFRESH_MIN_SECONDS, math.ceil(estimate))),
        )


def _load(cookie: str, salt: str) -> dict[str, Any] | None:
    try:
        value = signing.loads(cookie, salt=salt)
    except signing.BadSignature:
        return None
    return value if isinstance(value, dict) else None
