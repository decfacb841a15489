"""A daily rota suggestion: a base team on the phones all day, and a surge team for the peaks.

Nichinan's contractor planned "5 operators, able to grow to 10". That shape is what a centre can
actually hire: people who come every day, and people on call for the mail-out mornings. From the
calls expected per half hour, each interval gets its operators (Erlang C, or Erlang A when callers
hang up after `patience_seconds`) and its lines (Erlang B). Per day:

- the base team is the fewest rostered staff that cover `base_coverage` of the day's open
  intervals (by default 80%: most of the day, not the 9:00 spike);
- the surge team is what the busiest interval needs on top of that;
- lines are the most any interval needs, since lines are contracted for the day, not the half
  hour.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby

from django.utils import timezone
from django.utils.translation import gettext as _

from channels.phone.erlang import Staffing, StaffingTargets
from reservations.csv_safety import SafeWriter

# A rota covers at most a month at a time: it is a plan for the weeks ahead.
ROTA_MAX_DAYS = 31


@dataclass(frozen=True)
class IntervalDemand:
    starts_at: dt.datetime
    calls: float  # call attempts expected to reach the centre in the interval


@dataclass(frozen=True)
class RotaParameters(StaffingTargets):
    base_coverage: float = 0.8


@dataclass(frozen=True)
class RotaInterval:
    starts_at: dt.datetime
    calls: float
    staffing: Staffing
    base: int  # base team members rostered in this interval
    surge: int  # surge team members called in for this interval


@dataclass(frozen=True)
class DailyRota:
    date: dt.date
    base_team: int
    surge_team: int
    lines: int
    intervals: list[RotaInterval]

    @property
    def peak_staff(self) -> int:
        return self.base_team + self.surge_team


def base_team(needs: Sequence[int], *, coverage: float) -> int:
    """The fewest staff that meet the need of at least `coverage` of the intervals (the
    nearest-rank percentile of the needs)."""
    if not 0 < coverage <= 1:
        raise ValueError("coverage must be a fraction")
    if not needs:
        return 0
    ranked = sorted(needs)
    return ranked[math.ceil(coverage * len(ranked)) - 1]


def rota_suggest(
    *, demand: Iterable[IntervalDemand], parameters: RotaParameters
) -> list[DailyRota]:
    """One DailyRota per local date in `demand` (the centre's open intervals only)."""
    tz = timezone.get_current_timezone()
    ordered = sorted(demand, key=lambda d: d.starts_at)
    rotas = []
    for date, day in groupby(ordered, key=lambda d: timezone.localtime(d.starts_at, tz).date()):
        staffed = [(d, parameters.staffing(d.calls)) for d in day]
        needs = [s.staff for _d, s in staffed]
        base = base_team(needs, coverage=parameters.base_coverage)
        rotas.append(
            DailyRota(
                date=date,
                base_team=base,
                surge_team=max(needs) - base,
                lines=max(s.lines for _d, s in staffed),
                intervals=[
                    RotaInterval(
                        starts_at=d.starts_at,
                        calls=d.calls,
                        staffing=s,
                        base=base,
                        surge=max(0, s.staff - base),
                    )
                    for d, s in staffed
                ],
            )
        )
    return rotas


def rota_csv(rotas: Sequence[DailyRota]) -> str:
    """One row per half hour: the operators the interval needs, the day's base team, the surge
    staff called in for the interval, and the day's lines (contracted for the whole day)."""
    out = io.StringIO()
    writer = SafeWriter(out, lineterminator="\r\n")
    writer.writerow(
        [_("日時"), _("予測入電"), _("必要オペレーター"), _("基本チーム"), _("増員"), _("回線")]
    )
    for rota in rotas:
        for row in rota.intervals:
            writer.writerow(
                [
                    f"{timezone.localtime(row.starts_at):%Y-%m-%d %H:%M}",
                    f"{row.calls:.1f}",
                    row.staffing.staff,
                    rota.base_team,
                    row.surge,
                    rota.lines,
                ]
            )
    return out.getvalue()
