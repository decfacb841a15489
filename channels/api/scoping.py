"""What a partner key may reach: its municipalities' sites, slots, bookings and residents.

Out of scope is answered as if it did not exist (404, or the sign-in's credentials_invalid),
never 403: a partner of one city must not learn that another city's booking or slot exists.
Staff tokens and anonymous callers are not narrowed here; the views keep their rules.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from channels.api.models import PartnerKey
from reservations.identifiers import IdentifierError, normalize_municipality_code
from reservations.models import Municipality, Reservation, Site, Slot
from reservations.selectors import AvailableSlot, slot_list


def key_sites(key: PartnerKey) -> QuerySet[Site]:
    """The active sites of the key's municipalities, ordered as site_list_active orders one's."""
    return Site.objects.filter(municipality_id__in=key.municipality_ids, is_active=True).order_by(
        "name", "pk"
    )


def key_slot_list(key: PartnerKey, **filters: Any) -> list[AvailableSlot]:
    """slot_list over each of the key's municipalities, merged in its order (start, site)."""
    municipalities = Municipality.objects.filter(pk__in=key.municipality_ids).order_by("code")
    available = [a for m in municipalities for a in slot_list(municipality=m, **filters)]
    if len(municipalities) > 1:
        available.sort(key=lambda a: (a.slot.starts_at, a.slot.operating_day.site.name))
    return available


def key_slots(key: PartnerKey) -> QuerySet[Slot]:
    """Slots a key may book or move a booking to: those at its municipalities' sites."""
    return Slot.objects.filter(operating_day__site__municipality_id__in=key.municipality_ids)


def key_sites_all(key: PartnerKey) -> QuerySet[Site]:
    """Sites a key may name when recording a dose, active or not."""
    return Site.objects.filter(municipality_id__in=key.municipality_ids)


def key_holds_municipality_code(key: PartnerKey, code: str) -> bool:
    """Whether a resident's municipality code (as typed, e.g. full-width) is one of the key's."""
    try:
        normalized = normalize_municipality_code(code)
    except IdentifierError:
        return True  # malformed: the sign-in refuses it as it refuses any caller's
    return normalized in key.municipality_codes


def key_holds_reservation(key: PartnerKey, reservation: Reservation) -> bool:
    """A booking is its resident's municipality's data, wherever the slot is."""
    return reservation.resident.municipality_id in key.municipality_ids
