"""An iCalendar (RFC 5545) file for one booking, so a resident can add it to their phone.

Written with the `icalendar` package: it escapes text, folds long lines without splitting a
UTF-8 character, and writes UTC times as the standard asks, which the hand-written version
before it had to get right by itself."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Alarm, Calendar, Event

from reservations.identifiers import format_reservation_code
from reservations.localized import localized
from reservations.models import Reservation


def reservation_ics(reservation: Reservation, *, host: str) -> str:
    """The booking as one event in the reader's language (the page's: English names of the
    site and vaccine where they are filled in, reservations.localized)."""
    slot = reservation.slot
    site = slot.operating_day.site
    site_name = localized(site)
    lines = [
        _("予約番号 %(code)s") % {"code": format_reservation_code(reservation.code)},
        "{} {}".format(
            localized(reservation.vaccine), _("%(n)s回目") % {"n": reservation.dose_number}
        ),
    ]
    what_to_bring = localized(site, "what_to_bring")
    if what_to_bring:
        lines.append(_("持ち物: %(items)s") % {"items": what_to_bring})
    event = Event()
    event.add("uid", f"{reservation.code}@{host.split(':')[0] or 'madoguchi'}")
    event.add("dtstamp", timezone.now().astimezone(dt.UTC))
    event.add("dtstart", slot.starts_at.astimezone(dt.UTC))
    event.add("dtend", slot.ends_at.astimezone(dt.UTC))
    event.add("summary", _("ワクチン接種 %(site)s") % {"site": site_name})
    # The address stays as written: it is what a map or a taxi driver reads.
    event.add("location", " ".join(filter(None, [site_name, site.address])))
    event.add("description", "\n".join(lines))
    for alarm in _reminders(reservation):
        event.add_component(alarm)
    calendar = Calendar()
    calendar.add("prodid", "-//Madoguchi//Resident web//JA")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    text: bytes = calendar.to_ical()
    return text.decode()


# When the phone reminds the resident: the day before (time to find the ticket and the papers)
# and two hours before (time to get there).
REMINDERS = (dt.timedelta(days=1), dt.timedelta(hours=2))


def _reminders(reservation: Reservation) -> list[Alarm]:
    """VALARMs (RFC 5545 §3.6.6) that show a message before the booking, relative to its start
    so that they follow the event if the calendar app moves it."""
    slot = reservation.slot
    site = localized(slot.operating_day.site)
    start = timezone.localtime(slot.starts_at).strftime("%H:%M")
    alarms = []
    for before in REMINDERS:
        text = (
            _("明日 %(time)s からワクチン接種の予約です（%(site)s）。接種券をお持ちください。")
            if before >= dt.timedelta(days=1)
            else _("%(time)s からワクチン接種の予約です（%(site)s）。")
        ) % {"time": start, "site": site}
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", -before)
        alarm.add("description", text)
        alarms.append(alarm)
    return alarms
