"""Erlang A (M/M/N+M, callers with exponential patience) against an independent solution.

No third-party Erlang A runs on this project's Python 3.11: pyworkforce's `ErlangA` first
appears in 0.5.2, which requires Python >= 3.12 (and pulls numpy, pandas and OR-Tools);
erlangccmath posts every question to its vendor's web service; erlanglib and call-center-tools
stop at Erlang B/C. So, as the plan allows, `erlang_a` (closed forms through the incomplete gamma
function) is checked on a grid against the birth-death chain solved here the plain way: the
stationary distribution by the balance equations, summed until the tail is negligible, and the
service level by uniformising the tagged caller's chain (queue position j moves to j-1 at rate
N·μ + j·θ; the caller leaves unanswered at rate θ). No formula is shared between the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from channels.phone.erlang import (
    erlang_a,
    erlang_c,
    service_level,
    staffing_required,
    staffing_required_erlang_a,
)


@dataclass(frozen=True)
class Chain:
    wait: float
    abandonment: float
    asa_seconds: float
    occupancy: float
    service_level: float


def birth_death_chain(
    agents: int, traffic: float, *, aht: float, patience: float, target: float
) -> Chain:
    """The M/M/N+M chain in plain sums: birth rate λ, death rate min(n, N)·μ + max(n-N, 0)·θ."""
    mu, theta = 1 / aht, 1 / patience
    lam = traffic * mu
    weights = [1.0]
    n = 0
    while True:
        n += 1
        weights.append(weights[-1] * lam / (min(n, agents) * mu + max(n - agents, 0) * theta))
        if n > agents and weights[-1] < 1e-18 * sum(weights):
            break
        if weights[-1] > 1e200:  # rescale: the sums only need ratios
            weights = [w / 1e200 for w in weights]
    total = sum(weights)
    p = [w / total for w in weights]
    waiting = sum(p[agents:])
    queue = sum((k - agents) * p[k] for k in range(agents, len(p)))
    abandonment = theta * queue / lam
    busy = sum(min(k, agents) * p[k] for k in range(len(p)))
    # The tagged caller who finds j = k - N ahead. v[j] = P(answered within m uniformised steps).
    ahead = len(p) - agents
    rate = agents * mu + ahead * theta + theta
    v = [0.0] * ahead
    weight = math.exp(-rate * target)  # Poisson(m; rate·t), starting at m = 0
    answered = [0.0] * ahead
    steps = int(rate * target + 12 * math.sqrt(rate * target) + 30)
    for m in range(1, steps + 1):
        nxt = [0.0] * ahead
        for j in range(ahead):
            advance = agents * mu + j * theta
            stay = rate - advance - theta
            nxt[j] = (advance / rate) * (1.0 if j == 0 else v[j - 1]) + (stay / rate) * v[j]
        v = nxt
        weight *= rate * target / m
        for j in range(ahead):
            answered[j] += weight * v[j]
    within = sum(p[:agents]) + sum(p[agents + j] * answered[j] for j in range(ahead))
    return Chain(
        wait=waiting,
        abandonment=abandonment,
        asa_seconds=queue / lam,
        occupancy=busy / agents,
        service_level=within,
    )


GRID = [
    (agents, round(agents * load, 3), aht, patience)
    for agents in (1, 4, 10, 25)
    for load in (0.5, 0.9, 1.0, 1.4)
    for aht, patience in ((180, 30), (180, 180), (600, 120), (300, 900))
]


@pytest.mark.parametrize(("agents", "traffic", "aht", "patience"), GRID)
def test_erlang_a_matches_the_birth_death_chain(
    agents: int, traffic: float, aht: float, patience: float
) -> None:
    ours = erlang_a(agents, traffic, aht_seconds=aht, patience_seconds=patience, target_seconds=20)
    chain = birth_death_chain(agents, traffic, aht=aht, patience=patience, target=20)
    close = {"rel": 1e-6, "abs": 1e-9}
    assert ours.wait_probability == pytest.approx(chain.wait, **close)
    assert ours.abandonment == pytest.approx(chain.abandonment, **close)
    assert ours.asa_seconds == pytest.approx(chain.asa_seconds, **close)
    assert ours.occupancy == pytest.approx(chain.occupancy, **close)
    assert ours.service_level == pytest.approx(chain.service_level, rel=1e-6, abs=1e-8)


def test_it_matches_the_chain_at_call_centre_scale() -> None:
    # 300 agents, a patient caller base (an hour on average): the sums must neither overflow
    # nor lose the small abandonment.
    ours = erlang_a(300, 285.0, aht_seconds=300, patience_seconds=3600, target_seconds=20)
    chain = birth_death_chain(300, 285.0, aht=300, patience=3600, target=20)
    assert ours.wait_probability == pytest.approx(chain.wait, rel=1e-6)
    assert ours.abandonment == pytest.approx(chain.abandonment, rel=1e-6)
    assert ours.service_level == pytest.approx(chain.service_level, rel=1e-6)


def test_very_patient_callers_give_erlang_c() -> None:
    result = erlang_a(14, 10.0, aht_seconds=180, patience_seconds=1e8, target_seconds=20)
    assert result.wait_probability == pytest.approx(erlang_c(14, 10.0), rel=1e-5)
    assert result.service_level == pytest.approx(
        service_level(14, 10.0, target_seconds=20, aht_seconds=180), rel=1e-5
    )
    assert result.abandonment < 1e-6


def test_an_overloaded_centre_settles_and_answers_what_the_agents_can_take() -> None:
    # Erlang C has no answer at 50 Erlangs on 5 agents; with patience, 45 of every 50 hang up.
    result = erlang_a(5, 50.0, aht_seconds=300, patience_seconds=120, target_seconds=20)
    assert result.abandonment == pytest.approx(0.9, abs=1e-6)
    assert result.occupancy == pytest.approx(1.0, abs=1e-6)


def test_staffing_with_hang_ups_needs_no_more_than_erlang_c() -> None:
    common = {
        "calls": 100,
        "interval_seconds": 1800,
        "aht_seconds": 180,
        "service_level_target": 0.8,
        "target_seconds": 20,
        "max_occupancy": 0.85,
        "shrinkage": 0.3,
        "max_blocking": 0.01,
    }
    erlang_c_staffing = staffing_required(**common)  # type: ignore[arg-type]
    patient = staffing_required_erlang_a(patience_seconds=1e8, **common)  # type: ignore[arg-type]
    impatient = staffing_required_erlang_a(patience_seconds=60, **common)  # type: ignore[arg-type]
    assert patient.agents == erlang_c_staffing.agents == 14
    assert impatient.agents == 12
    assert impatient.abandonment == pytest.approx(0.0759, abs=5e-4)
    # The result is the fewest agents: one fewer misses the service level.
    fewer = erlang_a(11, 10.0, aht_seconds=180, patience_seconds=60, target_seconds=20)
    assert fewer.service_level < 0.8 <= impatient.service_level
    # A cap on hang-ups adds agents.
    capped = staffing_required_erlang_a(
        patience_seconds=60,
        max_abandonment=0.02,
        **common,  # type: ignore[arg-type]
    )
    assert capped.agents > impatient.agents
    assert capped.abandonment <= 0.02
