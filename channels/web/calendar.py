"""An iCalendar (RFC 5545) file for one booking, so a resident can add it to their phone.

Written with the `icalendar` package: it escapes text, folds long lines without splitting a
UTF-8 character, and writes UTC times as the standard asks, which the hand-written version
before it had to get right by itself."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from icalendar import Calendar, Event

from reservations.identifiers import format_reservation_code
from reservations.models import Reservation


def reservation_ics(reservation: Reservation, *, host: str) -> str:
    slot = reservation.slot
    site = slot.operating_day.site
    code = format_reservation_code(reservation.code)
    description = f"予約番号 {code}\n{reservation.vaccine.name} {reservation.dose_number}回目"
    if site.what_to_bring:
        description += f"\n持ち物: {site.what_to_bring}"
    event = Event()
    event.add("uid", f"{reservation.code}@{host.split(':')[0] or 'madoguchi'}")
    event.add("dtstamp", timezone.now().astimezone(dt.UTC))
    event.add("dtstart", slot.starts_at.astimezone(dt.UTC))
    event.add("dtend", slot.ends_at.astimezone(dt.UTC))
    event.add("summary", f"ワクチン接種 {site.name}")
    event.add("location", " ".join(filter(None, [site.name, site.address])))
    event.add("description", description)
    calendar = Calendar()
    calendar.add("prodid", "-//Madoguchi//Resident web//JA")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    text: bytes = calendar.to_ical()
    return text.decode()
