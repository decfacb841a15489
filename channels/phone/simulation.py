"""The rehearsal of opening day: a discrete-event simulation (SimPy) of the morning booking
opens, to see before the day what a staffing choice does.

What it models, from the opening time (t = 0) to the centre's closing time:
- Residents on the web arrive (Poisson, at each half hour's rate) and book through the booking
  core, which takes `bookings_per_second` one after another (its measured capacity); the rest
  wait their turn, as in the waiting room. A resident who arrives when the public seats are gone
  sees "fully booked" and leaves; one who reaches the core just after the last seat went has
  lost the race.
- Callers dial (Poisson). A call that finds every line taken hears a busy tone. A call that gets
  a line waits in one queue (first come, first served) for an operator; with a patience, the
  caller hangs up after an exponentially distributed time (mean `patience_seconds`). A caller
  who heard a busy tone or hung up dials again with `redial_probability`, after an exponential
  delay (mean `redial_delay_seconds`), at most `max_attempts` times. Talk time is exponential
  (mean AHT); the operator books at the end of the call while seats remain (phone calls may use
  the seats reserved for the phone). Nobody dials after closing; calls queued then are answered.

What it does not model: the core's bookings from the phone and the web competing for the same
capacity (the call centre's few bookings a minute are lost in the web's), people switching from
the phone to the web, or a caller who stops calling once the news says it is full.

Deterministic: the same seed gives the same run, and the first dial and the web arrivals come
from their own random streams, so two staffing choices compared with one seed face the same
residents."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import simpy

# A SimPy process: a generator of events to wait for.
Process = Generator[simpy.Event, Any, None]

# The booking core's measured capacity for the resident web flow: docs/benchmarks.md, issue 16
# (2026-12-07 run, PostgreSQL, gunicorn with 4 workers on the project's 2-vCPU box): 14.3, 12.3,
# 16.3 and 15.1 bookings/s at 16, 32, 64 and 128 users. The default is the lowest, 12.3: plan
# for the worst measured, and measure the production machines before the season.
WEB_BOOKINGS_PER_SECOND = 12.3


@dataclass(frozen=True)
class OpeningDemand:
    """What arrives per interval from the opening time: residents who phone for the first time
    and residents who try to book on the web."""

    opens_at: dt.datetime
    phone_callers: Sequence[float]
    web_residents: Sequence[float]
    interval_seconds: int = 30 * 60

    @property
    def intervals(self) -> int:
        return max(len(self.phone_callers), len(self.web_residents))

    @property
    def close_seconds(self) -> float:
        return float(self.intervals * self.interval_seconds)


@dataclass(frozen=True)
class CentreSetup:
    """One staffing choice: operators on the phones and lines into the centre."""

    operators: int
    lines: int

    def __str__(self) -> str:
        return f"{self.operators}:{self.lines}"


@dataclass(frozen=True)
class RehearsalParameters:
    seats: int
    aht_seconds: float
    patience_seconds: float | None  # None: callers wait for ever (Erlang C's assumption)
    redial_probability: float
    redial_delay_seconds: float
    phone_reserved_seats: int = 0
    bookings_per_second: float = WEB_BOOKINGS_PER_SECOND
    max_attempts: int = 50
    seed: int = 0


@dataclass
class IntervalOutcome:
    starts_at: dt.datetime
    attempts: int = 0
    busy: int = 0
    abandoned: int = 0
    answered: int = 0
    wait_total: float = 0.0
    web_booked: int = 0
    phone_booked: int = 0
    seats_left: int = 0

    @property
    def mean_wait_seconds(self) -> float | None:
        return self.wait_total / self.answered if self.answered else None


@dataclass
class Rehearsal:
    setup: CentreSetup
    parameters: RehearsalParameters
    callers: int = 0
    attempts: int = 0
    busy: int = 0
    abandoned: int = 0
    answered: int = 0
    callers_gave_up: int = 0
    waits: list[float] = field(default_factory=list)
    operator_busy_seconds: float = 0.0
    open_seconds: float = 0.0
    web_residents: int = 0
    web_booked: int = 0
    web_found_full: int = 0
    web_seconds_to_book: list[float] = field(default_factory=list)
    phone_booked: int = 0
    public_sold_out_after: float | None = None
    sold_out_after: float | None = None
    intervals: list[IntervalOutcome] = field(default_factory=list)

    @property
    def busy_share(self) -> float:
        """Share of call attempts that heard a busy tone."""
        return self.busy / self.attempts if self.attempts else 0.0

    @property
    def abandoned_share(self) -> float:
        """Share of the calls that got a line and then hung up in the queue."""
        queued = self.attempts - self.busy
        return self.abandoned / queued if queued else 0.0

    @property
    def attempts_per_caller(self) -> float:
        return self.attempts / self.callers if self.callers else 0.0

    @property
    def callers_answered_share(self) -> float:
        return self.answered / self.callers if self.callers else 0.0

    @property
    def occupancy(self) -> float:
        """Operators' talk time over their time on duty while the centre is open."""
        capacity = self.setup.operators * self.open_seconds
        return self.operator_busy_seconds / capacity if capacity else 0.0

    @property
    def mean_wait_seconds(self) -> float | None:
        return sum(self.waits) / len(self.waits) if self.waits else None

    def wait_percentile(self, share: float) -> float | None:
        return percentile(self.waits, share)

    def web_percentile(self, share: float) -> float | None:
        return percentile(self.web_seconds_to_book, share)


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile: the smallest value at or above `share` of the values."""
    if not values:
        return None
    ranked = sorted(values)
    return ranked[max(0, math.ceil(share * len(ranked)) - 1)]


class _Opening:
    """One run's state: the seats, the lines in use and the counters the processes update."""

    def __init__(
        self, demand: OpeningDemand, setup: CentreSetup, parameters: RehearsalParameters
    ) -> None:
        if setup.operators <= 0 or setup.lines <= 0:
            raise ValueError("operators and lines must be positive")
        if not 0 <= parameters.redial_probability <= 1:
            raise ValueError("the redial probability must be a fraction")
        if not 0 <= parameters.phone_reserved_seats <= parameters.seats:
            raise ValueError("the phone's reserved seats must be within the seats")
        self.demand = demand
        self.setup = setup
        self.parameters = parameters
        self.env = simpy.Environment()
        self.operators = simpy.Resource(self.env, capacity=setup.operators)
        self.core = simpy.Resource(self.env, capacity=1)
        self.lines_in_use = 0
        self.close = demand.close_seconds
        seed = parameters.seed
        self.phone_arrivals = random.Random(seed * 4 + 1)
        self.web_arrivals = random.Random(seed * 4 + 2)
        self.calls = random.Random(seed * 4 + 3)  # patience, talk time, redials
        self.result = Rehearsal(setup=setup, parameters=parameters, open_seconds=self.close)
        self.result.intervals = [
            IntervalOutcome(
                starts_at=demand.opens_at + dt.timedelta(seconds=i * demand.interval_seconds)
            )
            for i in range(demand.intervals)
        ]

    def _interval(self) -> IntervalOutcome:
        index = int(self.env.now // self.demand.interval_seconds)
        return self.result.intervals[min(index, len(self.result.intervals) - 1)]

    # Seats: the web takes only public seats; the phone takes any, its reserved ones first.
    def _public_seats_left(self) -> int:
        r, p = self.result, self.parameters
        phone_from_public = max(0, r.phone_booked - p.phone_reserved_seats)
        return p.seats - p.phone_reserved_seats - r.web_booked - phone_from_public

    def _seats_left(self) -> int:
        return self.parameters.seats - self.result.web_booked - self.result.phone_booked

    def _note_seat_taken(self) -> None:
        if self.result.public_sold_out_after is None and self._public_seats_left() <= 0:
            self.result.public_sold_out_after = self.env.now
        if self.result.sold_out_after is None and self._seats_left() <= 0:
            self.result.sold_out_after = self.env.now

    def arrivals(
        self, rng: random.Random, counts: Sequence[float], arrive: Callable[[], Process]
    ) -> Process:
        """Poisson arrivals at a rate constant within each interval (memoryless, so at an
        interval's end the next draw simply starts from there at the next rate)."""
        length = self.demand.interval_seconds
        for index, count in enumerate(counts):
            if count <= 0:
                continue
            rate = count / length
            moment = float(index * length)
            while True:
                moment += rng.expovariate(rate)
                if moment >= (index + 1) * length:
                    break
                yield self.env.timeout(moment - self.env.now)
                self.env.process(arrive())

    def web_resident(self) -> Process:
        r = self.result
        r.web_residents += 1
        if self._public_seats_left() <= 0:
            r.web_found_full += 1
            return
        arrived = self.env.now
        with self.core.request() as turn:
            yield turn
            yield self.env.timeout(1 / self.parameters.bookings_per_second)
        if self._public_seats_left() <= 0:
            r.web_found_full += 1  # lost the race for the last seats
            return
        r.web_booked += 1
        self._interval().web_booked += 1
        r.web_seconds_to_book.append(self.env.now - arrived)
        self._note_seat_taken()

    def caller(self) -> Process:
        r, p, rng = self.result, self.parameters, self.calls
        r.callers += 1
        for attempt in range(1, p.max_attempts + 1):
            interval = self._interval()
            r.attempts += 1
            interval.attempts += 1
            if self.lines_in_use >= self.setup.lines:
                r.busy += 1
                interval.busy += 1
            else:
                self.lines_in_use += 1
                dialled = self.env.now
                with self.operators.request() as answer:
                    if p.patience_seconds is None:
                        yield answer
                    else:
                        patience = rng.expovariate(1 / p.patience_seconds)
                        yield answer | self.env.timeout(patience)
                    if answer.triggered:
                        yield from self._talk(dialled)
                        return
                self.lines_in_use -= 1
                r.abandoned += 1
                interval.abandoned += 1
            if attempt == p.max_attempts or rng.random() >= p.redial_probability:
                break
            yield self.env.timeout(rng.expovariate(1 / p.redial_delay_seconds))
            if self.env.now >= self.close:
                break
        r.callers_gave_up += 1

    def _talk(self, dialled: float) -> Process:
        r, p = self.result, self.parameters
        wait = self.env.now - dialled
        interval = self._interval()
        r.answered += 1
        interval.answered += 1
        interval.wait_total += wait
        r.waits.append(wait)
        started = self.env.now
        yield self.env.timeout(self.calls.expovariate(1 / p.aht_seconds))
        # Occupancy counts talk while the centre is open; the drain after closing is overtime.
        r.operator_busy_seconds += max(0.0, min(self.env.now, self.close) - started)
        self.lines_in_use -= 1
        if self._seats_left() > 0:
            r.phone_booked += 1
            self._interval().phone_booked += 1
            self._note_seat_taken()

    def run(self) -> Rehearsal:
        env = self.env
        env.process(
            self.arrivals(
                self.phone_arrivals,
                self.demand.phone_callers,
                self.caller,
            )
        )
        env.process(
            self.arrivals(
                self.web_arrivals,
                self.demand.web_residents,
                self.web_resident,
            )
        )
        for index, interval in enumerate(self.result.intervals):
            env.run(until=(index + 1) * self.demand.interval_seconds)
            interval.seats_left = self._seats_left()
        env.run()  # the queue at closing is answered
        return self.result


def rehearse(
    *, demand: OpeningDemand, setup: CentreSetup, parameters: RehearsalParameters
) -> Rehearsal:
    """Run opening day once with one staffing choice."""
    return _Opening(demand, setup, parameters).run()
