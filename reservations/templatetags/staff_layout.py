"""{% load staff_layout %}: the shared staff layout's navigation (reservations/staff_areas.py).

{% staff_areas as areas %}      the areas the signed-in user may use, in order
{% staff_home as home %}        the area this user starts in, or None (the 403 and 404 pages'
                                way back: home.label, home.url)
{% municipality_switch as switch %}  for staff of several municipalities: switch.choices and
                                switch.acting (reservations/staff_views.py); None otherwise
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from reservations.models import Municipality
from reservations.staff_areas import StaffArea
from reservations.staff_areas import staff_areas as areas_for
from reservations.staff_areas import staff_home as home_for
from reservations.staff_areas import staff_home_url as home_url_for
from reservations.staff_scope import acting_municipality, scope_municipalities

register = template.Library()


@register.simple_tag(takes_context=True)
def staff_areas(context: template.Context) -> list[StaffArea]:
    return areas_for(context.get("user"))


@register.simple_tag(takes_context=True)
def staff_home(context: template.Context) -> StaffArea | None:
    return home_for(context.get("user"))


@register.simple_tag(takes_context=True)
def staff_home_url(context: template.Context) -> str:
    return home_url_for(context.get("user"))


@register.filter
def is_current_area(area: StaffArea, path: Any) -> bool:
    return area.is_current(str(path or ""))


@dataclass(frozen=True)
class MunicipalitySwitch:
    choices: list[Municipality]
    acting: Municipality | None


@register.simple_tag(takes_context=True)
def municipality_switch(context: template.Context) -> MunicipalitySwitch | None:
    request = context.get("request")
    user = context.get("user")
    if request is None or not getattr(user, "is_authenticated", False):
        return None
    if user is None or not user.is_staff:
        return None
    choices = scope_municipalities(user)
    if len(choices) < 2:
        return None
    return MunicipalitySwitch(choices=choices, acting=acting_municipality(request))
