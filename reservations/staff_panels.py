"""Sections that other apps add to the staff pages of the call centre: the resident's screen
and the dashboard.

The console shows what other apps know of a resident (their automated voice calls) and what
they cost (calls per day on the dashboard), yet a channel never imports another channel. So,
as with `reservations.retention` and `reservations.season_check`, an app registers a panel
source from its `AppConfig.ready()` and the console renders whatever is registered, each
panel from the template its app names.

A source only reads, and returns None when it has nothing to show (a municipality that never
used the feature). A resident panel says how many of the resident's records it shows
(`shown`): the console's audit row of the screen lists them, so what a panel shows is part of
the audited read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reservations.models import Municipality, Resident


@dataclass(frozen=True)
class Panel:
    """One section: its heading, the template that draws it (given `panel`), and its data."""

    name: str
    title: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    # How many of the person's records the section shows (resident panels; for the audit).
    shown: int = 0


class ResidentPanelSource(Protocol):
    def __call__(self, *, resident: Resident, now: dt.datetime) -> Panel | None: ...


class DashboardPanelSource(Protocol):
    def __call__(
        self, *, municipalities: Sequence[Municipality], date_from: dt.date, date_to: dt.date
    ) -> Panel | None: ...


_resident_sources: dict[str, ResidentPanelSource] = {}
_dashboard_sources: dict[str, DashboardPanelSource] = {}
# Each registered panel's title, for the audit trail's words ("自動音声電話 3件").
_titles: dict[str, Any] = {}


def resident_panel_register(name: str, source: ResidentPanelSource, *, title: Any) -> None:
    """Keyed by name, so registering again (an app's ready() run twice) replaces."""
    _resident_sources[name] = source
    _titles[name] = title


def dashboard_panel_register(name: str, source: DashboardPanelSource) -> None:
    _dashboard_sources[name] = source


def resident_panels(*, resident: Resident, now: dt.datetime) -> list[Panel]:
    """The registered sections of this resident's screen, in the order of their names."""
    found = (
        _resident_sources[name](resident=resident, now=now) for name in sorted(_resident_sources)
    )
    return [panel for panel in found if panel is not None]


def dashboard_panels(
    *, municipalities: Sequence[Municipality], date_from: dt.date, date_to: dt.date
) -> list[Panel]:
    """The registered sections of the dashboard for these municipalities (the user's scope)."""
    found = (
        source(municipalities=municipalities, date_from=date_from, date_to=date_to)
        for _name, source in sorted(_dashboard_sources.items())
    )
    return [panel for panel in found if panel is not None]


def panel_title(name: str) -> str:
    """A resident panel's title in the active language; the name itself once unregistered."""
    return str(_titles.get(name, name))
