"""The booking's .ics: it parses, and it reminds the resident the day before and two hours
before, in the resident's language."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from icalendar import Calendar

from reservations.services.booking import reservation_book
from tests.channels.web.conftest import Clock, sign_in
from tests.world import World

pytestmark = pytest.mark.django_db

D = dt.date


def test_the_calendar_file_carries_two_reminders(
    client: Client, world: World, clock: Clock
) -> None:
    ticket = world.resident()
    booked = reservation_book(
        ticket=ticket, slot=world.slot(D(2026, 11, 10), 10), requester=world.web
    )
    url = sign_in(client, ticket)
    body = client.get(f"{url}r/{booked.code}/calendar.ics").content
    [event] = Calendar.from_ical(body).walk("VEVENT")
    alarms = event.walk("VALARM")
    assert [alarm["TRIGGER"].dt for alarm in alarms] == [
        -dt.timedelta(days=1),
        -dt.timedelta(hours=2),
    ]
    assert all(str(alarm["ACTION"]) == "DISPLAY" for alarm in alarms)
    day_before, two_hours = (str(alarm["DESCRIPTION"]) for alarm in alarms)
    assert day_before.startswith("明日 10:00 からワクチン接種の予約です（日南市文化センター）")
    assert "接種券" in day_before
    assert two_hours == "10:00 からワクチン接種の予約です（日南市文化センター）。"
    # Relative triggers follow the event: the start itself is still the slot's.
    assert event["DTSTART"].dt == dt.datetime(2026, 11, 10, 1, 0, tzinfo=dt.UTC)


def test_an_english_reader_gets_the_calendar_in_english(world: World, clock: Clock) -> None:
    from tests.channels.web.test_languages import english_client, name_everything_in_english

    name_everything_in_english(world)
    ticket = world.resident()
    booked = reservation_book(
        ticket=ticket, slot=world.slot(D(2026, 11, 10), 14), requester=world.web
    )
    client = english_client()
    url = sign_in(client, ticket)
    body = client.get(f"{url}r/{booked.code}/calendar.ics").content
    [event] = Calendar.from_ical(body).walk("VEVENT")
    text = "\n".join(str(event[key]) for key in ("SUMMARY", "LOCATION", "DESCRIPTION")) + "\n".join(
        str(alarm["DESCRIPTION"]) for alarm in event.walk("VALARM")
    )
    assert "Nichinan Culture Centre" in str(event["SUMMARY"])
    assert "Comirnaty (12 and over)" in str(event["DESCRIPTION"])
    assert "Your vaccination ticket and a photo ID" in str(event["DESCRIPTION"])
    # No Japanese left but the address, which a map or a taxi driver reads as written.
    address = world.site.address
    japanese = re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]+", text.replace(address, ""))
    assert japanese == []
