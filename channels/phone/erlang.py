"""Erlang B and Erlang C, the queueing formulas call centres staff by.

Both are computed with the numerically stable recurrence for Erlang B,
B(0) = 1, B(n) = A·B(n-1) / (n + A·B(n-1)), and C(N, A) = N·B / (N - A·(1 - B)),
so no factorial is ever formed and hundreds of agents are as cheap and exact as five.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_b(lines: int, traffic: float) -> float:
    """Probability that a call finds every line busy (blocked), with `traffic` Erlangs offered."""
    if lines < 0 or traffic < 0:
        raise ValueError("lines and traffic must not be negative")
    blocking = 1.0
    for n in range(1, lines + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call has to wait. 1.0 when the agents cannot keep up (A ≥ N)."""
    if agents <= 0 or traffic >= agents:
        return 1.0
    if traffic <= 0:
        return 0.0
    blocking = erlang_b(agents, traffic)
    return agents * blocking / (agents - traffic * (1 - blocking))


def service_level(
    agents: int, traffic: float, *, target_seconds: float, aht_seconds: float
) -> float:
    """Share of calls answered within `target_seconds`: 1 - C·e^(-(N-A)·t/AHT)."""
    if agents <= traffic:
        return 0.0
    waits = erlang_c(agents, traffic)
    return 1 - waits * math.exp(-(agents - traffic) * target_seconds / aht_seconds)


def average_speed_of_answer(agents: int, traffic: float, *, aht_seconds: float) -> float:
    """Mean wait in seconds over all calls: C·AHT / (N - A)."""
    if agents <= traffic:
        return math.inf
    return erlang_c(agents, traffic) * aht_seconds / (agents - traffic)


@dataclass(frozen=True)
class Staffing:
    calls: float
    traffic: float
    agents: int  # on the phones at once
    staff: int  # rostered, after shrinkage
    service_level: float
    occupancy: float
    asa_seconds: float
    lines: int


def lines_required(traffic: float, *, max_blocking: float) -> int:
    """Fewest lines so that at most `max_blocking` of callers hear a busy tone."""
    if not 0 < max_blocking < 1:
        raise ValueError("max_blocking must be between 0 and 1")
    if traffic <= 0:
        return 0
    lines = 0
    while erlang_b(lines, traffic) > max_blocking:
        lines += 1
    return lines


def staffing_required(
    *,
    calls: float,
    interval_seconds: int,
    aht_seconds: float,
    service_level_target: float,
    target_seconds: float,
    max_occupancy: float,
    shrinkage: float,
    max_blocking: float,
) -> Staffing:
    """Agents for one interval: the fewest N meeting the service level with occupancy A/N at
    most `max_occupancy`; rostered staff N / (1 - shrinkage); lines by Erlang B for the load
    that occupies a line (talking plus waiting in the queue)."""
    if aht_seconds <= 0 or interval_seconds <= 0:
        raise ValueError("handling time and interval must be positive")
    if not (0 < service_level_target < 1 and 0 < max_occupancy <= 1 and 0 <= shrinkage < 1):
        raise ValueError("service level, occupancy and shrinkage must be fractions")
    traffic = calls * aht_seconds / interval_seconds
    if calls <= 0:
        return Staffing(calls, 0.0, 0, 0, 1.0, 0.0, 0.0, 0)
    agents = max(1, math.floor(traffic) + 1)
    while (
        service_level(agents, traffic, target_seconds=target_seconds, aht_seconds=aht_seconds)
        < service_level_target
        or traffic / agents > max_occupancy
    ):
        agents += 1
    asa = average_speed_of_answer(agents, traffic, aht_seconds=aht_seconds)
    line_traffic = calls * (aht_seconds + asa) / interval_seconds
    return Staffing(
        calls=calls,
        traffic=traffic,
        agents=agents,
        staff=math.ceil(agents / (1 - shrinkage) - 1e-9),
        service_level=service_level(
            agents, traffic, target_seconds=target_seconds, aht_seconds=aht_seconds
        ),
        occupancy=traffic / agents,
        asa_seconds=asa,
        lines=lines_required(line_traffic, max_blocking=max_blocking),
    )
