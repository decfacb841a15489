"""The call centre's part of `manage.py seed_demo`: a season plan for the demo city, so the
forecast page and `manage.py forecast` show a plan-based forecast from the first run.

Connected to `reservations.signals.demo_seeded` in apps.py: the core's command sends the signal
and never imports the call centre; without this app installed, no plan is made.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from channels.phone.models import SeasonPlan, TicketMailout
from channels.phone.planning import age_group_counts, band_for_ages
from reservations.models import Municipality

# Oldest first, a week apart; the first batch arrived yesterday, so today already has callers.
DEMO_MAILOUTS = ((75, None, -3), (65, 74, 4), (None, 64, 11))
DEMO_PLAN_DAYS_BEFORE = 14
DEMO_PLAN_DAYS_AFTER = 60


def demo_season_plan(
    sender: Any,
    *,
    municipality: Municipality,
    today: dt.date,
    last_day: dt.date,
    **kwargs: Any,
) -> str:
    """Create the demo plan unless a plan already covers the demo window (a second run, or a
    plan entered by hand: never overwritten). Returns a line for the command's summary."""
    starts_on = today - dt.timedelta(days=DEMO_PLAN_DAYS_BEFORE)
    ends_on = last_day + dt.timedelta(days=DEMO_PLAN_DAYS_AFTER)
    existing = SeasonPlan.objects.filter(
        municipality=municipality, starts_on__lte=ends_on, ends_on__gte=starts_on
    ).first()
    if existing is not None:
        return _("コールセンターのシーズン計画: 「%(name)s」があるため作成しませんでした") % {
            "name": existing.name
        }
    plan = SeasonPlan.objects.create(
        municipality=municipality,
        name=_("デモ計画（%(date)s〜）") % {"date": starts_on.isoformat()},
        starts_on=starts_on,
        ends_on=ends_on,
        # A demo city of a few hundred people: two operators, three at the busiest.
        lines_planned=4,
        operators_base=2,
        operators_surge=3,
    )
    for age_from, age_to, offset in DEMO_MAILOUTS:
        mailed_on = today + dt.timedelta(days=offset)
        band = band_for_ages(on=mailed_on, age_from=age_from, age_to=age_to)
        holders = sum(age_group_counts(municipality=municipality, band=band, on=mailed_on))
        if holders:
            TicketMailout.objects.create(
                plan=plan, mailed_on=mailed_on, tickets=holders, age_from=age_from, age_to=age_to
            )
    return _(
        "コールセンターのシーズン計画: 「%(name)s」（接種券の発送 %(count)s回）。"
        "入電予測は /phone/forecast/ と manage.py forecast で確認できます"
    ) % {"name": plan.name, "count": plan.mailouts.count()}
