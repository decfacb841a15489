"""What an API caller may reach: the sites, slots, bookings and residents of its scope.

- a partner key: its municipalities (every site of each);
- a staff token (or a signed-in member of staff): their staff scope
  (reservations/staff_scope.py), the same as on every staff page;
- anonymous callers: only public availability (sites, seats), of the municipality they name or
  of HOME_MUNICIPALITY_CODE.

Out of scope is answered as if it did not exist (404, or the sign-in's credentials_invalid),
never 403: a caller of one city must not learn that another city's booking or slot exists.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request

from channels.api.authentication import partner_key
from reservations.identifiers import IdentifierError, normalize_municipality_code
from reservations.models import Municipality, Reservation, Site, Slot
from reservations.selectors import AvailableSlot, slot_list
from reservations.staff_scope import StaffScope, staff_scope


def caller_scope(request: Request) -> StaffScope | None:
    """The scope of a signed-in caller (partner key or staff), None for an anonymous one."""
    key = partner_key(request)
    if key is not None:
        return StaffScope(
            everything=False,
            whole_municipality_ids=key.municipality_ids,
            site_ids=frozenset(),
            municipality_ids=key.municipality_ids,
        )
    if request.user.is_authenticated:
        return staff_scope(request.user)
    return None


def scope_sites(scope: StaffScope) -> QuerySet[Site]:
    """The active sites in scope, ordered as site_list_active orders one municipality's."""
    return scope.sites().filter(is_active=True)


def scope_slot_list(
    scope: StaffScope, municipalities: QuerySet[Municipality], **filters: Any
) -> list[AvailableSlot]:
    """slot_list over each municipality in scope (narrowed to `municipalities`), at the sites in
    scope, merged in its order (start, site)."""
    served = list(scope.municipalities().filter(pk__in=municipalities.values("pk")))
    available = [
        a
        for m in served
        for a in slot_list(municipality=m, **filters)
        if scope.covers_site(a.slot.operating_day.site)
    ]
    if len(served) > 1:
        available.sort(key=lambda a: (a.slot.starts_at, a.slot.operating_day.site.name))
    return available


def scope_slots(scope: StaffScope) -> QuerySet[Slot]:
    """Slots a caller may book or move a booking to: those at the sites in scope."""
    return Slot.objects.filter(scope.site_q("operating_day__site"))


def scope_sites_all(scope: StaffScope) -> QuerySet[Site]:
    """Sites a caller may name when recording a dose, active or not."""
    return scope.sites()


def scope_holds_municipality_code(scope: StaffScope, code: str) -> bool:
    """Whether a resident's municipality code (as typed, e.g. full-width) is in scope."""
    if scope.everything:
        return True
    try:
        normalized = normalize_municipality_code(code)
    except IdentifierError:
        return True  # malformed: the sign-in refuses it as it refuses any caller's
    return scope.municipalities().filter(code=normalized).exists()


def scope_holds_reservation(scope: StaffScope, reservation: Reservation) -> bool:
    """A booking is its resident's municipality's data, wherever the slot is."""
    return scope.covers_municipality(reservation.resident.municipality_id)
