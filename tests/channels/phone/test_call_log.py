"""The call log: opened by a search, closed once, and summed per operator and hour."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client

from channels.phone.models import Call
from channels.phone.selectors import call_metrics
from channels.phone.services import call_close, call_start
from reservations import roles
from tests.channels.phone.conftest import staff_user
from tests.world import World, jst

pytestmark = pytest.mark.django_db


def closed_call(
    world: World, operator: User, start: dt.datetime, seconds: int, bookings: int
) -> Call:
    call = call_start(operator=operator, municipality=world.municipality, now=start)
    Call.objects.filter(pk=call.pk).update(bookings_made=bookings)
    return call_close(
        call=call,
        outcome=Call.Outcome.BOOKED if bookings else Call.Outcome.ANSWERED,
        now=start + dt.timedelta(seconds=seconds),
    )


def test_a_search_opens_one_call_and_a_second_search_reuses_it(
    phone_world: World, operator_client: Client
) -> None:
    operator_client.get("/phone/", {"q": "ニチナン"})
    operator_client.get("/phone/", {"q": "ヒダカ"})
    assert Call.objects.filter(operator=phone_world.operator, ended_at__isnull=True).count() == 1


def test_closing_twice_keeps_the_first_end(phone_world: World) -> None:
    start = jst(2026, 11, 20, 10)
    call = call_start(
        operator=phone_world.operator, municipality=phone_world.municipality, now=start
    )
    first = call_close(call=call, outcome="answered", now=start + dt.timedelta(minutes=4))
    again = call_close(call=call, outcome="other", now=start + dt.timedelta(minutes=9))
    assert again.ended_at == first.ended_at and again.handling_seconds == 240
    assert again.outcome == "answered" and again.purpose == Call.Purpose.QUESTION


def test_an_unknown_outcome_is_refused(phone_world: World, operator_client: Client) -> None:
    operator_client.get("/phone/", {"q": "x"})
    text = operator_client.post("/phone/call/close/", {"outcome": "hung-up"}, follow=True)
    assert "通話の結果を選んでください" in text.content.decode()
    assert Call.objects.get().ended_at is None


def test_metrics_per_operator_and_hour(phone_world: World, supervisor: User) -> None:
    second = staff_user("operator2", roles.OPERATORS)
    closed_call(phone_world, phone_world.operator, jst(2026, 11, 20, 10, 5), 600, 2)
    closed_call(phone_world, phone_world.operator, jst(2026, 11, 20, 10, 40), 1200, 0)
    closed_call(phone_world, phone_world.operator, jst(2026, 11, 20, 11, 10), 300, 1)
    closed_call(phone_world, second, jst(2026, 11, 20, 10, 15), 900, 1)
    # An open call is not counted yet.
    call_start(
        operator=second, municipality=phone_world.municipality, now=jst(2026, 11, 20, 10, 50)
    )
    rows = call_metrics(
        municipality=phone_world.municipality,
        date_from=dt.date(2026, 11, 20),
        date_to=dt.date(2026, 11, 20),
    )
    summary = [
        (r["operator"], r["hour"].hour, r["calls"], r["aht_seconds"], r["bookings_per_call"])
        for r in rows
    ]
    assert summary == [
        ("operator", 10, 2, 900, 1.0),
        ("operator2", 10, 1, 900, 1.0),
        ("operator", 11, 1, 300, 1.0),
    ]
    client = Client()
    client.force_login(supervisor)
    text = client.get(
        "/phone/metrics/", {"from": "2026-11-20", "to": "2026-11-20"}
    ).content.decode()
    assert "2026-11-20 10:00" in text and "operator2" in text
