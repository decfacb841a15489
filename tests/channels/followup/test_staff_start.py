"""Starting a follow-up for one resident from the staff screens: found by ticket number and
birth date in the municipality acted for; mistakes refused in Japanese."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.test import Client

from channels.followup.models import FollowUp, Questionnaire
from reservations import roles
from tests.world import World, jst, staff_with

pytestmark = pytest.mark.django_db

NOW = jst(2026, 11, 2, 10)


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def health_staff() -> Client:
    from django.contrib.auth.models import Group

    user = staff_with("hoken")
    user.groups.add(Group.objects.get(name=roles.HEALTH_CENTRE_STAFF))
    client = Client()
    client.force_login(user)
    return client


def form(ticket: str, birth: dt.date, **extra: str) -> dict[str, str]:
    questionnaire = Questionnaire.objects.get(code="post-vaccination", is_active=True)
    return {
        "ticket_number": ticket,
        "birth_date": birth.isoformat(),
        "questionnaire": str(questionnaire.pk),
        "start_date": "2026-11-02",
        "day_offsets": "1,2,7",
        **extra,
    }


def test_a_resident_is_followed_from_the_ticket_list(world: World) -> None:
    ticket = world.resident()
    resident = ticket.resident
    client = health_staff()
    assert client.get("/followup/start/").status_code == 200
    response = client.post("/followup/start/", form(ticket.number, resident.birth_date))
    followup = FollowUp.objects.get()
    assert response.status_code == 302 and response.url == f"/followup/{followup.pk}/"
    assert followup.person.resident == resident and followup.day_offsets == [1, 2, 7]
    assert followup.person.ticket_number == ticket.number
    # The same again is refused: already followed from that date.
    again = client.post("/followup/start/", form(ticket.number, resident.birth_date))
    assert "すでに受けています" in again.content.decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"birth_date": "1900-01-01"}, "一致する住民が見つかりません"),
        ({"ticket_number": "12345"}, "接種券番号"),
        ({"day_offsets": "1,x"}, "カンマ区切り"),
        ({"day_offsets": "", "days": ""}, "どちらか一方"),
        ({"days": "3"}, "どちらか一方"),
        ({"day_offsets": "400"}, "0〜365日後"),
    ],
)
def test_mistakes_are_refused_in_japanese(world: World, change: dict, message: str) -> None:
    ticket = world.resident()
    data = form(ticket.number, ticket.resident.birth_date) | change
    response = health_staff().post("/followup/start/", data)
    assert response.status_code == 200 and message in response.content.decode()
    assert not FollowUp.objects.exists()


def test_another_municipalitys_resident_is_not_found(world: World) -> None:
    theirs = world.neighbour().resident()
    response = health_staff().post(
        "/followup/start/", form(theirs.number, theirs.resident.birth_date)
    )
    assert "一致する住民が見つかりません" in response.content.decode()
    assert not FollowUp.objects.exists()


def test_without_the_permission_the_page_is_refused(world: World) -> None:
    client = Client()
    client.force_login(staff_with("viewer", "view_followup"))
    assert client.get("/followup/start/").status_code == 403


def test_dates_at_the_calendars_ends_are_refused_not_a_server_error(world: World) -> None:
    ticket = world.resident()
    client = health_staff()
    response = client.post(
        "/followup/start/",
        form(ticket.number, ticket.resident.birth_date, start_date="9999-12-31"),
    )
    assert response.status_code == 200 and "開始日が正しくありません" in response.content.decode()
    for day in ("9999-12-31", "0001-01-01"):
        page = client.get(f"/followup/?day={day}")
        assert page.status_code == 200 and "2099年12月31日まで" in page.content.decode()
