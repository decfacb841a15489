"""Erlang B, Erlang C and Erlang A, the queueing formulas call centres staff by.

Erlang B and C are computed with the numerically stable recurrence for Erlang B,
B(0) = 1, B(n) = A·B(n-1) / (n + A·B(n-1)), and C(N, A) = N·B / (N - A·(1 - B)),
so no factorial is ever formed and hundreds of agents are as cheap and exact as five.
Erlang A (callers who hang up) is below, with its own note.
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
    abandonment: float = 0.0  # share of callers hanging up before an answer (Erlang A only)


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


# Erlang A (Palm's M/M/N+M): callers hang up after an exponentially distributed patience.
#
# Erlang C assumes nobody hangs up, so on a busy morning it overstates the staff needed (and
# says "infinite wait" as soon as the load reaches the agents). With a patience θ = 1/patience
# the queue always settles. The formulas below are the closed forms of Mandelbaum and Zeltyn
# ("The Palm/Erlang-A queue, with applications to call centers", 2007), written with
#   a = N·μ/θ and y = λ/θ  (μ = 1/AHT, λ = arrival rate),
#   S(a, y) = Σ_k y^k / ((a+1)(a+2)…(a+k)) = a·e^y·y^(-a)·γ(a, y),
# where γ is the lower incomplete gamma function. S is the mass of the states with every agent
# busy relative to the state with exactly N busy and nobody waiting. Everything is computed in
# logarithms so that hundreds of agents or a patience of an hour neither overflow nor underflow.


@dataclass(frozen=True)
class ErlangA:
    agents: int
    traffic: float
    wait_probability: float  # share of callers who find every agent busy
    abandonment: float  # share of callers who hang up before an agent answers
    asa_seconds: float  # mean wait over all callers, those who hang up included
    occupancy: float  # share of the agents' time spent talking
    service_level: float  # share of all callers answered within the target time


def _log_series(a: float, y: float) -> float:
    """ln S(a, y) with S(a, y) = Σ_k y^k / ((a+1)…(a+k)).

    Below y = a + 1 the series converges quickly term by term. Above it the terms first grow,
    so there S comes from the upper incomplete gamma function's continued fraction (modified
    Lentz, as in Numerical Recipes' gcf): S = e^y·y^(-a)·Γ(a+1)·(1 - Q(a, y))."""
    if y <= 0:
        return 0.0
    if y < a + 1:
        term = total = 1.0
        k = 0
        while term > total * 1e-17:
            k += 1
            term *= y / (a + k)
            total += term
        return math.log(total)
    tiny = 1e-300
    b = y + 1 - a
    c = 1 / tiny
    d = 1 / b
    fraction = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        fraction *= delta
        if abs(delta - 1) < 1e-16:
            break
    log_q = a * math.log(y) - y - math.lgamma(a) + math.log(fraction)
    return y - a * math.log(y) + math.lgamma(a + 1) + math.log1p(-math.exp(log_q))


def _log_regularized_lower_gamma(a: float, x: float) -> float:
    """ln P(a, x) = ln(γ(a, x) / Γ(a)), through S: P(a, x) = x^a·e^(-x)·S(a, x) / Γ(a+1)."""
    if x <= 0:
        return -math.inf
    return a * math.log(x) - x - math.lgamma(a + 1) + _log_series(a, x)


def _log_inverse_erlang_b(lines: int, traffic: float) -> float:
    """ln(1 / B(N, A)) by the recurrence 1/B(n) = 1 + (n/A)·1/B(n-1), in logarithms, so that
    a light load on many agents (B far below 1e-300) still gives a finite number."""
    log_inverse = 0.0
    for n in range(1, lines + 1):
        x = math.log(n / traffic) + log_inverse
        log_inverse = x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))
    return log_inverse


def erlang_a(
    agents: int,
    traffic: float,
    *,
    aht_seconds: float,
    patience_seconds: float,
    target_seconds: float,
) -> ErlangA:
    """Erlang A for `agents` answering `traffic` Erlangs of callers whose mean patience is
    `patience_seconds`. The service level counts a caller who hangs up as not answered, whether
    they hung up before or after the target time."""
    if agents <= 0:
        raise ValueError("agents must be positive")
    if aht_seconds <= 0 or patience_seconds <= 0 or traffic < 0 or target_seconds < 0:
        raise ValueError(
            "handling time and patience must be positive, traffic and target not negative"
        )
    if traffic == 0:
        return ErlangA(agents, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
    a = agents * patience_seconds / aht_seconds
    y = traffic * patience_seconds / aht_seconds
    log_s = _log_series(a, y)
    # π_N, the probability of exactly N busy and nobody waiting: 1 / (1/B - 1 + S).
    log_inverse_b = _log_inverse_erlang_b(agents, traffic)
    log_rest = log_inverse_b + math.log1p(-math.exp(-log_inverse_b))  # ln(1/B - 1)
    high, low = max(log_rest, log_s), min(log_rest, log_s)
    log_pi_n = -(high + math.log1p(math.exp(low - high)))
    wait = math.exp(log_pi_n + log_s)
    # Answered after waiting: π_N·a/(a+1)·S(a+1, y), since S(a, y) - 1 = y/(a+1)·S(a+1, y).
    answered_after_waiting = math.exp(log_pi_n + math.log(a / (a + 1)) + _log_series(a + 1, y))
    abandonment = max(0.0, wait - answered_after_waiting)
    # Of those, the share answered within t: the offered wait V has P(V ≤ t | answered later)
    # = 1 - P(a+1, y·e^(-θt)) / P(a+1, y).
    theta = 1 / patience_seconds
    later = math.exp(
        _log_regularized_lower_gamma(a + 1, y * math.exp(-theta * target_seconds))
        - _log_regularized_lower_gamma(a + 1, y)
    )
    return ErlangA(
        agents=agents,
        traffic=traffic,
        wait_probability=wait,
        abandonment=abandonment,
        # Little's law on the queue, E[Q] = θ·E[Q]/λ·λ/θ: the mean wait is P(abandon)·patience.
        asa_seconds=abandonment * patience_seconds,
        occupancy=traffic * (1 - abandonment) / agents,
        service_level=min(1.0, 1 - wait + answered_after_waiting * (1 - later)),
    )


def staffing_required_erlang_a(
    *,
    calls: float,
    interval_seconds: int,
    aht_seconds: float,
    patience_seconds: float,
    service_level_target: float,
    target_seconds: float,
    max_occupancy: float,
    shrinkage: float,
    max_blocking: float,
    max_abandonment: float = 1.0,
) -> Staffing:
    """Like `staffing_required`, for callers who hang up after `patience_seconds` on average:
    the fewest agents meeting the service level (answered within the target, over all callers),
    the occupancy cap and at most `max_abandonment` hanging up. Lines carry the answered calls'
    talk and every caller's wait."""
    if aht_seconds <= 0 or interval_seconds <= 0 or patience_seconds <= 0:
        raise ValueError("handling time, interval and patience must be positive")
    if not (0 < service_level_target < 1 and 0 < max_occupancy <= 1 and 0 <= shrinkage < 1):
        raise ValueError("service level, occupancy and shrinkage must be fractions")
    if calls <= 0:
        return Staffing(calls, 0.0, 0, 0, 1.0, 0.0, 0.0, 0)
    traffic = calls * aht_seconds / interval_seconds

    def measure(agents: int) -> ErlangA:
        return erlang_a(
            agents,
            traffic,
            aht_seconds=aht_seconds,
            patience_seconds=patience_seconds,
            target_seconds=target_seconds,
        )

    # Hang-ups shed load, so fewer agents than Erlangs can meet a lax target: start from one.
    agents = 1
    result = measure(agents)
    while (
        result.service_level < service_level_target
        or result.occupancy > max_occupancy
        or result.abandonment > max_abandonment
    ):
        agents += 1
        result = measure(agents)
    line_traffic = calls * ((1 - result.abandonment) * aht_seconds + result.asa_seconds)
    return Staffing(
        calls=calls,
        traffic=traffic,
        agents=agents,
        staff=math.ceil(agents / (1 - shrinkage) - 1e-9),
        service_level=result.service_level,
        occupancy=result.occupancy,
        asa_seconds=result.asa_seconds,
        lines=lines_required(line_traffic / interval_seconds, max_blocking=max_blocking),
        abandonment=result.abandonment,
    )


@dataclass(frozen=True)
class StaffingTargets:
    """What a centre staffs an interval for: the one home of these targets for the log forecast
    (forecast.ForecastParameters), the rota (rota.RotaParameters) and the season plan
    (SeasonPlan.staffing_targets). `patience_seconds` None: nobody hangs up (Erlang C);
    otherwise Erlang A with that mean patience."""

    aht_seconds: float
    service_level: float
    target_seconds: float
    max_occupancy: float
    shrinkage: float
    max_blocking: float
    patience_seconds: float | None = None
    interval_seconds: int = 30 * 60

    def staffing(self, calls: float) -> Staffing:
        if self.patience_seconds is None:
            return staffing_required(
                calls=calls,
                interval_seconds=self.interval_seconds,
                aht_seconds=self.aht_seconds,
                service_level_target=self.service_level,
                target_seconds=self.target_seconds,
                max_occupancy=self.max_occupancy,
                shrinkage=self.shrinkage,
                max_blocking=self.max_blocking,
            )
        return staffing_required_erlang_a(
            calls=calls,
            interval_seconds=self.interval_seconds,
            aht_seconds=self.aht_seconds,
            patience_seconds=self.patience_seconds,
            service_level_target=self.service_level,
            target_seconds=self.target_seconds,
            max_occupancy=self.max_occupancy,
            shrinkage=self.shrinkage,
            max_blocking=self.max_blocking,
        )
