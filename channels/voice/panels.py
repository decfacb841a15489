"""The call records where staff look: a section of the resident's screen in the call centre
(every call to them, its result, its length, the keys pressed and what they did) and a section
of the dashboard (calls and minutes per day and municipality: calls cost money).

The console may not import this channel; both sections reach it through the core's registry
(reservations.staff_panels), registered in VoiceConfig.ready()."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from channels.voice.labels import flow_label
from channels.voice.models import VoiceCall
from channels.voice.selectors import calls_for_resident, calls_per_day
from reservations.models import Municipality, Resident
from reservations.staff_panels import Panel

RESIDENT_PANEL = "voice.calls"
RESIDENT_PANEL_TITLE = _("自動音声電話")
DASHBOARD_PANEL = "voice.costs"


@dataclass(frozen=True)
class CallLine:
    call: VoiceCall
    flow: str


def resident_calls_panel(*, resident: Resident, now: dt.datetime) -> Panel | None:
    """The resident's calls, newest first. Nothing for a resident of a municipality that has
    never called anyone (its call centre has no use for an empty section)."""
    calls = list(calls_for_resident(resident_id=resident.pk))
    if not calls and not _voice_enabled(resident.municipality_id):
        return None
    return Panel(
        name=RESIDENT_PANEL,
        title=str(RESIDENT_PANEL_TITLE),
        template="voice/panels/resident_calls.html",
        context={"lines": [CallLine(call=call, flow=flow_label(call.flow)) for call in calls]},
        shown=len(calls),
    )


def _voice_enabled(municipality_id: int) -> bool:
    return Municipality.objects.filter(pk=municipality_id, voice_calls_enabled=True).exists()


@dataclass(frozen=True)
class CostLine:
    day: dt.date
    municipality: Municipality
    calls: int
    seconds: int

    @property
    def minutes(self) -> float:
        return seconds_to_minutes(self.seconds)


@dataclass(frozen=True)
class CostTotal:
    municipality: Municipality
    calls: int
    seconds: int

    @property
    def minutes(self) -> float:
        return seconds_to_minutes(self.seconds)


def seconds_to_minutes(seconds: int) -> float:
    """Minutes to one decimal, rounded up: a bill never comes out lower than this figure."""
    return math.ceil(seconds / 6) / 10


def dashboard_costs_panel(
    *, municipalities: Sequence[Municipality], date_from: dt.date, date_to: dt.date
) -> Panel | None:
    """Calls placed and minutes talked per day and municipality over the dashboard's days, for
    the municipalities in the user's scope only. Shown while a municipality has voice on, or
    had calls in the period (the bill for a month in which it was turned off)."""
    by_id = {m.pk: m for m in municipalities}
    rows = calls_per_day(municipality_ids=list(by_id), start=date_from, end=date_to)
    if not rows and not any(m.voice_calls_enabled for m in municipalities):
        return None
    lines = [
        CostLine(
            day=_as_date(row["day"]),
            municipality=by_id[_whole(row["municipality_id"])],
            calls=_whole(row["calls"]),
            seconds=_whole(row["seconds"]),
        )
        for row in rows
    ]
    totals = [
        CostTotal(
            municipality=m,
            calls=sum(line.calls for line in lines if line.municipality == m),
            seconds=sum(line.seconds for line in lines if line.municipality == m),
        )
        for m in municipalities
        if m.voice_calls_enabled or any(line.municipality == m for line in lines)
    ]
    return Panel(
        name=DASHBOARD_PANEL,
        title=str(_("自動音声電話の発信件数と通話時間")),
        template="voice/panels/dashboard_costs.html",
        context={"lines": lines, "totals": totals, "date_from": date_from, "date_to": date_to},
    )


def _whole(value: object) -> int:
    """A count or sum from the database (a sum over no answered call is None: 0)."""
    return value if isinstance(value, int) else 0


def _as_date(value: object) -> dt.date:
    # SQLite hands TruncDate back as text on some versions; PostgreSQL as a date.
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def panels_register() -> None:
    """Register both sections with the core (called from VoiceConfig.ready())."""
    from reservations.staff_panels import dashboard_panel_register, resident_panel_register

    resident_panel_register(RESIDENT_PANEL, resident_calls_panel, title=RESIDENT_PANEL_TITLE)
    dashboard_panel_register(DASHBOARD_PANEL, dashboard_costs_panel)
